"""Progressive jobs: a draft scene at progressive_size first, then the requested size replaces it;
both are cached; the synchronous route answers with the final scene only."""

from __future__ import annotations

import numpy as np
from fastapi.testclient import TestClient

from app import MLSharpApp
from sharpnet.utils.photo import load_photo
from svc_helpers import job_snapshots, png_bytes, service_config


def _config(tiny_a_dir, tmp_path, **optimization):
    return service_config(tmp_path, model={"checkpoint": str(tiny_a_dir / "state_dict.pt"),
                                           "model_config": str(tiny_a_dir / "config.json")},
                          inference={"input_size": [1024, 1024]},
                          optimization={"progressive": True, "progressive_size": 512, **optimization})


def test_draft_then_final_labelled_and_both_cached(tiny_a_dir, tmp_path):
    data = (tiny_a_dir / "input.png").read_bytes()
    owner = MLSharpApp(_config(tiny_a_dir, tmp_path))
    with TestClient(owner.app) as client:
        job = client.post("/api/jobs", files={"file": ("input.png", data, "image/png")}, data={"f_px": "520"})
        assert job.status_code == 202, job.text
        seen = job_snapshots(client, job.json()["job_id"])
        final = seen[-1]
        assert final["state"] == "done", final
        draft, result = final["draft"], final["result"]
        # Labels and sizes: the draft is marked and smaller; the result is the requested side.
        assert draft["draft"] is True and draft["input_size"] == 512
        assert result["draft"] is False and result["input_size"] == 1024
        assert draft["id"] != result["id"] and draft["url"] != result["url"]
        assert draft["num_gaussians"] == 2 * 256 * 256 and result["num_gaussians"] == 2 * 512 * 512
        # Order: the draft was published first (both clocks start with the job).
        assert draft["timings"]["total"] < result["timings"]["total"]
        stages = [s["stage"] for s in seen]
        assert stages.index("done") > max(i for i, s in enumerate(seen) if s["draft"] is None)
        assert all(s["result"] is None for s in seen if s["stage"] == "draft")
        for scene in (draft, result):  # both viewable
            assert client.get(scene["url"]).status_code == 200
        # Both cached: the draft answers a synchronous request at its side, the final a repeat job.
        at_draft = client.post("/api/predict", files={"file": ("input.png", data, "image/png")},
                               data={"f_px": "520", "input_size": "512"}).json()
        assert at_draft["cache_hit"] is True and at_draft["id"] == draft["id"]
        repeat = client.post("/api/jobs", files={"file": ("input.png", data, "image/png")}, data={"f_px": "520"})
        again = job_snapshots(client, repeat.json()["job_id"])[-1]
        assert again["result"]["cache_hit"] is True and again["result"]["id"] == result["id"]


def test_synchronous_predict_returns_only_the_final_scene(tiny_a_dir, tmp_path):
    photo = load_photo(tiny_a_dir / "input.png")
    other = png_bytes(np.ascontiguousarray(photo.rgb[::-1]))
    owner = MLSharpApp(_config(tiny_a_dir, tmp_path))
    with TestClient(owner.app) as client:
        before = len(owner.cache)
        body = client.post("/api/predict", files={"file": ("flipped.png", other, "image/png")},
                           data={"f_px": "520"}).json()
        assert body["draft"] is False and body["input_size"] == 1024 and body["cache_hit"] is False
        assert len(owner.cache) == before + 1  # no draft was computed for it


def test_progressive_defaults_follow_the_device(tiny_a_dir, tmp_path):
    config = service_config(tmp_path, model={"checkpoint": str(tiny_a_dir / "state_dict.pt"),
                                             "model_config": str(tiny_a_dir / "config.json")},
                            inference={"input_size": [1536, 1536]})
    owner = MLSharpApp(config)
    service = owner.service
    assert config.optimization.progressive is None
    assert service.draft_side(1536) == 512 and service.draft_side(512) is None
    service.device = "cuda:0"
    assert service.draft_side(1536) is None


def test_the_preview_backend_drafts_only_when_told(tmp_path):
    """null (auto) keeps the instant preview backend from drafting; an explicit true is obeyed,
    so the page's draft-then-final flow can be tried (and tested) without the model."""
    photo = png_bytes(np.random.default_rng(7).integers(0, 256, (48, 64, 3), dtype=np.uint8))
    auto = MLSharpApp(service_config(tmp_path / "auto", inference={"input_size": [1024, 1024]}))
    assert auto.service.draft_side(1024) is None
    told = MLSharpApp(service_config(tmp_path / "told", inference={"input_size": [1024, 1024]},
                                     optimization={"progressive": True, "progressive_size": 512}))
    with TestClient(told.app) as client:
        job = client.post("/api/jobs", files={"file": ("p.png", photo, "image/png")})
        final = job_snapshots(client, job.json()["job_id"])[-1]
        assert final["state"] == "done" and final["result"]["backend"] == "preview", final
        assert final["draft"]["draft"] is True and final["draft"]["input_size"] == 512
        assert final["result"]["input_size"] == 1024 and final["draft"]["id"] != final["result"]["id"]
