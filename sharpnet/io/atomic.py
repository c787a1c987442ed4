"""Atomic file writes, for every exporter: a reader never sees half a file under the final name."""

from __future__ import annotations

import os
import uuid
from pathlib import Path


def write_atomic(path: str | Path, payload: bytes | list[bytes]) -> Path:
    """Write ``payload`` (bytes, or pieces written in turn) to a temporary sibling, then rename."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
    try:
        with open(tmp, "wb") as fh:
            for piece in [payload] if isinstance(payload, bytes) else payload:
                fh.write(piece)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
