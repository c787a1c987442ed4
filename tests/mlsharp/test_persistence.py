"""A restart keeps the cache: same photo after a restart is a hit on the same file; a file deleted
while the service was down is forgotten, never served; --clear-cache empties it."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app import MLSharpApp
from svc_helpers import block_photo, png_bytes, service_config


def predict(client, data: bytes) -> dict:
    response = client.post("/api/predict", files={"file": ("p.png", data, "image/png")})
    assert response.status_code == 200, response.text
    return response.json()


def test_cache_survives_a_restart_and_never_points_at_a_missing_file(tmp_path):
    config = service_config(tmp_path)
    kept, lost = png_bytes(block_photo(64, 48, 8)), png_bytes(block_photo(64, 48, 16))

    with TestClient(MLSharpApp(config).app) as client:
        first_kept, first_lost = predict(client, kept), predict(client, lost)
    assert not list((tmp_path / "tmp").glob("run-*"))  # temporary folder removed at shutdown

    (tmp_path / "cache" / f"{first_lost['id']}.ply").unlink()  # lost while the service was down

    owner = MLSharpApp(config)
    with TestClient(owner.app) as client:
        assert client.get("/api/cache").json()["size"] == 1
        again = predict(client, kept)
        assert again["cache_hit"] is True and again["id"] == first_kept["id"]
        assert client.get(again["url"]).status_code == 200
        assert client.get(first_lost["url"]).status_code == 404
        recomputed = predict(client, lost)
        assert recomputed["cache_hit"] is False and recomputed["id"] != first_lost["id"]

    with TestClient(MLSharpApp(config, clear_cache=True).app) as client:
        assert client.get("/api/cache").json()["size"] == 0
        assert client.get(again["url"]).status_code == 404
    assert list((tmp_path / "cache").glob("*.ply")) == []


def test_with_the_cache_off_outputs_are_still_downloadable_but_temporary(tmp_path):
    config = service_config(tmp_path, cache={"enabled": False, "size": 2})
    owner = MLSharpApp(config)
    with TestClient(owner.app) as client:
        data = png_bytes(block_photo())
        first, second = predict(client, data), predict(client, data)
        assert first["cache_hit"] is False and second["cache_hit"] is False
        assert first["id"] != second["id"]
        assert client.get(first["url"]).status_code == 200
        predict(client, png_bytes(block_photo(32, 32, 4)))  # a third output evicts the first (size 2)
        assert client.get(first["url"]).status_code == 404
        assert client.get("/api/cache").json()["enabled"] is False
        run_dir = owner.run_dir
        assert run_dir.is_dir()
    assert not run_dir.exists()
    assert list((tmp_path / "cache").glob("*.ply")) == []


def test_temp_folders_of_dead_servers_are_removed_at_start(tmp_path):
    import os
    import subprocess
    import sys

    from app import remove_stale_run_dirs

    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()  # its pid now names no running process
    stale = tmp_path / f"run-{finished.pid}-abcd1234"
    live = tmp_path / f"run-{os.getpid()}-abcd1234"
    unrelated = tmp_path / "notes"
    for folder in (stale, live, unrelated):
        (folder / "outputs").mkdir(parents=True)
    assert remove_stale_run_dirs(tmp_path) == 1
    assert not stale.exists() and live.exists() and unrelated.exists()
