"""Fixtures for the service tests: small deterministic photos."""

from __future__ import annotations

import numpy as np
import pytest

from svc_helpers import block_photo, png_bytes


@pytest.fixture
def photo_rgb() -> np.ndarray:
    return block_photo()


@pytest.fixture
def photo_png() -> bytes:
    return png_bytes(block_photo())
