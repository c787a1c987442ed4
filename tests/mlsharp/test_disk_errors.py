"""Disk trouble is a clear answer: a full output folder is a 507 naming it while cache hits still
answer 200; clearing on a read-only disk forgets only what it deleted; a server cannot start on a
full or read-only folder (one-line ``error:``, exit 2).

The full-disk and start-up cases use a real tiny tmpfs (root and mount(8) needed, else skipped);
the read-only clear and the CI-portable cases inject the failure at the OS-call seam (a remount
read-only is refused while the index is open, as on any real system)."""

from __future__ import annotations

import errno
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from app import MLSharpApp
from mlsharp.cache_files import CacheFiles
from svc_helpers import block_photo, free_port, png_bytes, service_config

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def tiny_disk(tmp_path):
    """A 3 MB tmpfs mounted at tmp_path/disk; skipped where mounting is not allowed."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("mount(8) is not installed")
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount_point)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({result.stderr.strip() or result.returncode})")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def fill(folder: Path) -> Path:
    """Write until the disk is full; returns the filler (delete it to free the space)."""
    filler = folder / "filler.bin"
    with open(filler, "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def predict(client, data: bytes):
    return client.post("/api/predict", files={"file": ("p.png", data, "image/png")})


def test_full_disk_miss_is_507_and_a_hit_is_still_200(tmp_path, tiny_disk):
    config = service_config(tmp_path, cache={"dir": str(tiny_disk / "cache")})
    known, new = png_bytes(block_photo(64, 48, 8)), png_bytes(block_photo(64, 48, 16))
    with TestClient(MLSharpApp(config).app) as client:
        first = predict(client, known)
        assert first.status_code == 200, first.text
        filler = fill(tiny_disk)
        hit = predict(client, known)
        assert hit.status_code == 200 and hit.json()["cache_hit"] is True
        assert client.get(hit.json()["url"]).status_code == 200
        miss = predict(client, new)
        assert miss.status_code == 507, miss.text
        assert miss.json()["detail"].startswith(f"the output folder {tiny_disk / 'cache'} is full")
        assert not list((tiny_disk / "cache").glob(".*.part")), "no half-written file is left"
        filler.unlink()
        assert predict(client, new).status_code == 200  # and it recovers once there is space


@pytest.mark.parametrize("trouble", ["full", "read-only"])
def test_a_server_does_not_start_on_a_folder_it_cannot_write(tmp_path, tiny_disk, trouble):
    (tiny_disk / "cache").mkdir()
    if trouble == "full":
        fill(tiny_disk)
    else:
        assert subprocess.run(["mount", "-o", "remount,ro", str(tiny_disk)]).returncode == 0
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "browser": {"open": False}, "logging": {"file": False},
        "cache": {"dir": str(tiny_disk / "cache")}, "model": {"temp_dir": str(tmp_path / "tmp")},
    }))
    result = subprocess.run([sys.executable, str(REPO / "app.py"), "-c", str(config), "--no-browser",
                             "--port", str(free_port())], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: the output folder {tiny_disk / 'cache'} is {trouble}"), last


def raising_on(folder: Path, allowed: int, code: int):
    """An ``unlink`` that fails with ``code`` in ``folder`` after ``allowed`` successes there
    (counting only files that exist: a missing one answers ENOENT before any write check)."""
    real = Path.unlink
    count = {"n": 0}

    def unlink(self: Path, missing_ok: bool = False) -> None:
        if self.parent == folder and self.suffix == ".ply" and self.exists():
            count["n"] += 1
            if count["n"] > allowed:
                raise OSError(code, "Read-only file system", str(self))
        real(self, missing_ok=missing_ok)

    return unlink


def test_clear_on_a_read_only_disk_forgets_only_what_it_deleted(tmp_path, monkeypatch):
    config = service_config(tmp_path)
    photos = [png_bytes(block_photo(64, 48, b)) for b in (4, 8, 16)]
    owner = MLSharpApp(config)
    with TestClient(owner.app) as client:
        bodies = [predict(client, p).json() for p in photos]
        monkeypatch.setattr(Path, "unlink", raising_on(owner.cache.directory, 1, errno.EROFS))
        cleared = client.post("/api/cache/clear")
        monkeypatch.undo()
        assert cleared.status_code == 507
        detail = cleared.json()["detail"]
        assert "is read-only" in detail and "cleared 1 of 3" in detail, detail
        assert client.get("/api/cache").json()["size"] == 2
        served = [client.get(b["url"]).status_code for b in bodies]
        assert sorted(served) == [200, 200, 404]  # what is still indexed is still there
        assert predict(client, photos[served.index(200)]).json()["cache_hit"] is True


def test_a_full_disk_while_indexing_is_507_and_leaves_no_files(tmp_path, monkeypatch):
    config = service_config(tmp_path)
    owner = MLSharpApp(config)
    with TestClient(owner.app) as client:
        def no_space(self, entry):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(CacheFiles, "write_sidecar", no_space)
        response = predict(client, png_bytes(block_photo(64, 48, 8)))
        assert response.status_code == 507
        assert "is full" in response.json()["detail"]
        assert not list(owner.cache.directory.glob("*.ply")), "the unindexed scene was discarded"
        assert client.get("/api/cache").json()["size"] == 0
