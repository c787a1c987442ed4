"""Helpers shared by the service tests (a module with a unique name, so imports are unambiguous)."""

from __future__ import annotations

import io
import socket
from pathlib import Path

import numpy as np
from PIL import Image

from mlsharp.config import Config, build_config


def block_photo(width: int = 96, height: int = 64, block: int = 16) -> np.ndarray:
    """Uniform colour blocks (so a cell average equals its pixels) with a deterministic palette."""
    ys, xs = np.mgrid[0:height, 0:width]
    by, bx = ys // block, xs // block
    rgb = np.stack([(bx * 53 + 20) % 256, (by * 97 + 40) % 256, ((bx + by) * 31 + 60) % 256], axis=-1)
    return rgb.astype(np.uint8)


def png_bytes(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def service_config(root: Path, **sections: dict) -> Config:
    """A config whose every file location is under ``root`` (no logs, no browser)."""
    base = {
        "browser": {"open": False},
        "logging": {"file": False, "dir": str(root / "logs")},
        "cache": {"dir": str(root / "cache")},
        "model": {"temp_dir": str(root / "tmp"), "backend": "auto",
                  "checkpoint": str(root / "absent.pt")},
        "inference": {"input_size": [512, 512]},
    }
    for name, values in sections.items():
        base[name] = {**base.get(name, {}), **values}
    config, _ = build_config(base)
    return config


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
