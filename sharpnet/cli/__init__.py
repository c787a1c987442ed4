"""Command-line entry points of the network package; a front end (the service's ``predict`` and
``export-onnx`` subcommands) dispatches here and says, through :class:`Invocation`, what it is
called and where it keeps the weights, so this package names no program or folder of its own."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Invocation:
    """How the user ran the command: its name in ``usage:`` lines, the default checkpoint, and the
    hint a missing checkpoint's error ends with (how *that* front end fetches the weights)."""

    prog: str
    default_checkpoint: Path | None = None
    weights_hint: str = "pass --checkpoint PATH"

    def missing_checkpoint(self, path: Path) -> str:
        return f"no checkpoint at {path}: {self.weights_hint}"
