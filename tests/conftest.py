"""Shared test fixtures: where the shared golden data lives, and skipping cleanly without it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_SHARP = Path(os.environ.get("MLSHARP_SHARED_SHARP", REPO_ROOT.parent / "shared" / "sharp"))
TINY_A = SHARED_SHARP / "fixtures" / "tiny_a"


@pytest.fixture(scope="session")
def tiny_a_dir() -> Path:
    if not (TINY_A / "state_dict.pt").is_file():
        pytest.skip(f"golden fixtures not found at {TINY_A} (they live in ../shared beside the clone)")
    return TINY_A


def _talk_to_the_service_as_localhost() -> None:
    """The service answers only to its own Host names (mlsharp.site_guard: no DNS rebinding), and
    Starlette's TestClient says ``Host: testserver`` unless told otherwise; every test client
    talks to it as a browser on this machine would, ``http://localhost``."""
    from starlette.testclient import TestClient

    defaults = list(TestClient.__init__.__defaults__)
    defaults[0] = "http://localhost"
    TestClient.__init__.__defaults__ = tuple(defaults)


_talk_to_the_service_as_localhost()
