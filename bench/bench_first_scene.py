"""Seconds to the first viewable scene with the service's default settings; prints figures, asserts nothing.

    python bench/bench_first_scene.py [--checkpoint PATH] [--photo-size 1024 768]

A real server (``python app.py``) with the full-size network -- random weights unless
``--checkpoint`` is given (2.8 GB, as the released model) -- and otherwise the shipped defaults, so
on a CPU the job is progressive: a draft at ``optimization.progressive_size`` first, then the
requested 1536. One photo is submitted as a job, as the page does, and polled; a scene counts as
viewable once its ``.spz`` (what the page's viewer loads) has been downloaded. Prints the seconds
from the upload to the first viewable scene and to the final one; the last line is
``first_scene_ratio=<first/final>``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import httpx

from _common import checkpoint_or_random, free_port, jpeg, launch_server, stop_server


def fetch(base: str, url: str) -> int:
    response = httpx.get(base + url, timeout=None)
    response.raise_for_status()
    return len(response.content)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, help="a SHARP checkpoint (default: random full-size weights)")
    parser.add_argument("--photo-size", type=int, nargs=2, default=(1024, 768), metavar=("W", "H"))
    parser.add_argument("--load-timeout", type=float, default=900.0)
    return parser.parse_args()


def main() -> int:
    args = parse_args()

    with tempfile.TemporaryDirectory(prefix="mlsharp-first-scene-") as tmp:
        root = Path(tmp)
        checkpoint = checkpoint_or_random(args.checkpoint, root)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        process = launch_server(root, port, {  # the defaults, but for where files go
            "logging": {"file": False, "level": "WARNING"},
            "cache": {"dir": str(root / "cache")},
            "model": {"checkpoint": str(checkpoint), "temp_dir": str(root / "tmp")},
            "performance": {"predict_timeout": 3600.0},
        }, args.load_timeout)
        try:
            health = httpx.get(f"{base}/api/health", timeout=10).json()
            print(f"service up: {health['backend']} backend on {health['device']}")
            photo = jpeg(1, *args.photo_size)
            start = time.perf_counter()
            accepted = httpx.post(f"{base}/api/jobs", files={"file": ("photo.jpg", photo, "image/jpeg")},
                                  timeout=None)
            accepted.raise_for_status()
            status_url = accepted.json()["status_url"]
            first = final = None
            snapshot: dict = {}
            while final is None:
                snapshot = httpx.get(base + status_url, timeout=30).json()
                if snapshot["state"] == "error":
                    print(f"the job failed: {snapshot['error']}")
                    return 1
                if first is None and (snapshot.get("draft") or snapshot.get("result")):
                    scene = snapshot.get("draft") or snapshot["result"]
                    size = fetch(base, scene["viewer_url"])
                    first = time.perf_counter() - start
                    label = "draft" if scene.get("draft") else "final"
                    print(f"first viewable scene ({label}, input {scene['input_size']}, "
                          f"{scene['num_gaussians']:,} Gaussians, {size / 1e6:.1f} MB .spz): {first:.1f} s", flush=True)
                if snapshot["state"] == "done":
                    result = snapshot["result"]
                    size = fetch(base, result["viewer_url"])
                    final = time.perf_counter() - start
                    print(f"final scene (input {result['input_size']}, {result['num_gaussians']:,} Gaussians, "
                          f"{size / 1e6:.1f} MB .spz, forward {result['timings'].get('forward') or 0:.1f} s): "
                          f"{final:.1f} s", flush=True)
                    break
                time.sleep(0.25)
        finally:
            stop_server(process)
    assert first is not None and final is not None
    print(f"first_scene_ratio={first / final:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
