"""A test hook for the browser tests: the real service, whose network forwards wait at a gate.

``python tests/ui/ui_gate.py GATE_DIR app.py-arguments...`` runs ``app.py`` unchanged except
that each forward (:func:`mlsharp.engines.task.execute`, run in a worker process) first waits
until ``GATE_DIR/open-<side>`` exists, ``<side>`` being the network input side of that forward,
and drops ``GATE_DIR/waiting-<side>`` while it waits. A test thereby decides *when* a
progressive job's final scene comes (after it has moved the camera on the draft), or keeps a
job running until the page cancels it, instead of racing a preview forward that takes
milliseconds. Everything else -- jobs, drafts, cancel, the pool killing a cancelled worker --
is the service's own code.

The gate's poll is inside the service, never in a test: tests wait on conditions only.
"""

from __future__ import annotations

import os
import runpy
import sys
import time
from pathlib import Path

GATE_ENV = "MLSHARP_UI_GATE"
POLL_S = 0.05  # the worker's check of the gate folder


def gated_execute(spec, *args, **kwargs):
    """``task.execute`` once the test opened the gate for ``spec.side``."""
    from mlsharp.engines.task import execute

    gate = Path(os.environ[GATE_ENV])
    (gate / f"waiting-{spec.side}").touch()
    while not (gate / f"open-{spec.side}").exists():
        time.sleep(POLL_S)
    return execute(spec, *args, **kwargs)


def main() -> None:
    gate, *app_args = sys.argv[1:]
    os.environ[GATE_ENV] = str(Path(gate).resolve())  # inherited by the spawned workers
    repo = Path(__file__).resolve().parents[2]  # on PYTHONPATH (ui_helpers.running_service)
    import mlsharp.engines.batching as batching
    from ui_gate import gated_execute as importable  # by module name: the workers unpickle it so

    batching.execute = importable
    sys.argv = [str(repo / "app.py"), *app_args]
    runpy.run_path(str(repo / "app.py"), run_name="__main__")


if __name__ == "__main__":
    main()
