"""dynamic_input_size: never above the photo's resolution, within the time budget, and said why."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from fastapi.testclient import TestClient

from app import MLSharpApp
from mlsharp.input_size import choose_side
from svc_helpers import png_bytes, service_config


def opt(**kw):
    base = {"min_input_size": 512, "max_input_size": 1536, "time_budget_s": 0.0}
    return SimpleNamespace(**{**base, **kw})


def test_a_small_photo_is_never_blown_up():
    side, reason = choose_side(1536, (640, 480), opt())
    assert side == 640 and "long side is 640" in reason
    assert choose_side(1536, (300, 200), opt())[0] == 512  # never below min_input_size
    assert choose_side(1536, (4032, 3024), opt()) == (1536, "the configured side 1536 (max_input_size 1536)")
    assert choose_side(1024, (4032, 3024), opt())[0] == 1024  # nor above the configured side
    assert choose_side(1536, (4032, 3024), opt(max_input_size=1280))[0] == 1280


def test_the_time_budget_uses_auto_tunes_timing():
    # 8 s measured at 1536; a 2 s budget allows (2/8)**0.5 * 1536 = 768.
    side, reason = choose_side(1536, (4032, 3024), opt(time_budget_s=2.0), measured=(1536, 8.0))
    assert side == 768 and "time_budget_s 2 s" in reason and "measured 8.00 s at 1536" in reason
    side, reason = choose_side(1536, (4032, 3024), opt(time_budget_s=2.0), measured=None)
    assert side == 1536 and "no auto-tune timing" in reason
    assert choose_side(1536, (4032, 3024), opt(time_budget_s=0.01), measured=(1536, 8.0))[0] == 512


def test_the_response_says_which_side_and_why(tmp_path):
    config = service_config(tmp_path, model={"backend": "preview"}, inference={"input_size": [1536, 1536]},
                            optimization={"dynamic_input_size": True})
    photo = png_bytes(np.full((480, 640, 3), 90, np.uint8))
    with TestClient(MLSharpApp(config).app) as client:
        body = client.post("/api/predict", files={"file": ("p.png", photo, "image/png")}).json()
        assert body["input_size"] == 640 and "long side is 640" in body["input_size_reason"]
        asked = client.post("/api/predict", files={"file": ("p.png", photo, "image/png")},
                            data={"input_size": "1024"}).json()
        assert asked["input_size"] == 1024 and asked["input_size_reason"] is None  # an explicit request wins
