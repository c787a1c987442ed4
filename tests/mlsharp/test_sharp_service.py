"""The service with the real network (tiny golden configuration): sharp is chosen, loaded once in the
worker, labelled in health and responses, and its output is the reference layout."""

from __future__ import annotations

import io

from fastapi.testclient import TestClient
from plyfile import PlyData

from app import MLSharpApp
from svc_helpers import service_config


def test_service_serves_the_sharp_backend(tiny_a_dir, tmp_path):
    config = service_config(tmp_path, model={"checkpoint": str(tiny_a_dir / "state_dict.pt"),
                                             "model_config": str(tiny_a_dir / "config.json")})
    owner = MLSharpApp(config)
    with TestClient(owner.app) as client:
        health = client.get("/api/health").json()
        assert health["backend"] == "sharp" and health["preview"] is False and health["model_loaded"]
        assert health["reason"] is None and health["message"] is None
        data = (tiny_a_dir / "input.png").read_bytes()
        response = client.post("/api/predict", files={"file": ("input.png", data, "image/png")},
                               data={"f_px": "520"})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["backend"] == "sharp" and body["preview"] is False and body["message"] is None
        assert body["num_gaussians"] == 2 * 256 * 256 and body["input_size"] == 512
        assert 0 < body["timings"]["forward"] <= body["timings"]["inference"]  # the network's share
        ply = PlyData.read(io.BytesIO(client.get(body["url"]).content))
        assert ply["vertex"].count == body["num_gaussians"]
        assert ply["intrinsic"]["intrinsic"][0] == 520.0
        again = client.post("/api/predict", files={"file": ("input.png", data, "image/png")},
                            data={"f_px": "520"}).json()
        assert again["cache_hit"] is True and again["id"] == body["id"] and again["timings"]["forward"] is None
        print(f"tiny SHARP via the service: {body['timings']}")
