"""End-to-end request time through the service with the full-size SHARP network; prints figures, asserts nothing.

    python bench/bench_service.py [--input-size 768] [--requests 3] [--checkpoint PATH] [--mode auto]

Without ``--checkpoint`` it saves a full-size network with random weights (2.8 GB, the released
checkpoint's exact keys and shapes) to a temporary folder: the time per photo does not depend on
the weights' values. It then starts ``python app.py`` on a free 127.0.0.1 port with that checkpoint,
the result cache off (every request computes), one worker and temporary folders, waits until the
model is loaded, and posts the same 1024x768 JPEG ``--requests`` times to ``/api/predict``.

Per request it prints the client's wall time and the service's own split: image decode + hash,
inference (resize + forward + unprojection, in the worker), of which the forward alone, and the
.ply write. The overhead share is everything but the forward, over the client's wall time.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx



from _common import checkpoint_or_random, free_port, jpeg, launch_server, stop_server


def start_server(root: Path, port: int, checkpoint: Path, side: int, mode: str, timeout: float) -> subprocess.Popen:
    return launch_server(root, port, {
        "mode": mode,
        "browser": {"open": False},
        "logging": {"file": False, "level": "WARNING"},
        "cache": {"enabled": False, "dir": str(root / "cache")},
        "model": {"backend": "sharp", "checkpoint": str(checkpoint), "temp_dir": str(root / "tmp")},
        "inference": {"input_size": [side, side]},
        "performance": {"max_workers": 1, "predict_timeout": 3600.0},
    }, timeout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input-size", type=int, default=768)
    parser.add_argument("--requests", type=int, default=3)
    parser.add_argument("--checkpoint", type=Path, help="a SHARP checkpoint (default: random weights)")
    parser.add_argument("--mode", default="auto", help="the service's --mode (auto, cpu, nvidia, ...)")
    parser.add_argument("--load-timeout", type=float, default=600.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="mlsharp-bench-") as tmp:
        root = Path(tmp)
        checkpoint = checkpoint_or_random(args.checkpoint, root)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        started = time.perf_counter()
        process = start_server(root, port, checkpoint, args.input_size, args.mode, args.load_timeout)
        try:
            health = httpx.get(f"{base}/api/health", timeout=10).json()
            print(f"service up with the {health['backend']} backend on {health['device']} "
                  f"in {time.perf_counter() - started:.1f} s (model load included)")
            photo = jpeg(0, 1024, 768)
            rows = []
            print(f"{'request':>7} {'wall s':>8} {'decode s':>8} {'infer s':>8} {'forward s':>9} "
                  f"{'ply s':>6} {'overhead':>8}")
            for index in range(args.requests):
                t = time.perf_counter()
                response = httpx.post(f"{base}/api/predict", files={"file": ("photo.jpg", photo, "image/jpeg")},
                                      timeout=None)
                wall = time.perf_counter() - t
                if response.status_code != 200:
                    print(f"{index + 1:>7} failed: {response.status_code} {response.text[:200]}")
                    continue
                timings = response.json()["timings"]
                forward = timings.get("forward") or 0.0
                overhead = (wall - forward) / wall
                rows.append((wall, forward, overhead))
                print(f"{index + 1:>7} {wall:>8.2f} {timings['image_load']:>8.3f} {timings['inference']:>8.2f} "
                      f"{forward:>9.2f} {timings['ply_save']:>6.2f} {overhead:>7.1%}", flush=True)
            if rows:
                median = lambda i: statistics.median(r[i] for r in rows)  # noqa: E731
                print(f"median: {median(0):.2f} s per photo end to end at {args.input_size}, forward "
                      f"{median(1):.2f} s, overhead share {median(2):.1%} "
                      f"({rows[0][2]:.1%} on the first request)")
        finally:
            stop_server(process)
    return 0


if __name__ == "__main__":
    sys.exit(main())
