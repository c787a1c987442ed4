"""The API server's own footprint: start time, RSS and whether it maps libtorch; prints figures.

    python bench/bench_server_footprint.py [--backend preview|sharp] [--full] [--runs 3]

First, in a fresh interpreter per run, the seconds to import the server and build its app (no
workers) and the RSS after it. Then it starts ``python app.py`` (1 worker, own temporary folders)
and measures, per run: seconds from
spawning it to ``/api/health`` saying the model is loaded, the server process's RSS, its
workers' RSS, and whether the server process has libtorch mapped (the server should not: it only
routes requests; the workers import torch). ``--backend sharp`` serves a random-weights
checkpoint: the tiny golden network by default (``../shared/sharp``), the full-size one with
``--full`` (written once to a temporary file; ~2.6 GB of disk and a minute to create).
``MLSHARP_SHARED_SHARP`` points at the shared folder when it is not beside the clone.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO, free_port, launch_server, random_checkpoint, split_rss, stop_server

TINY = Path(os.environ.get("MLSHARP_SHARED_SHARP", REPO.parent / "shared" / "sharp")) / "fixtures" / "tiny_a"


def maps_libtorch(pid: int) -> bool:
    try:
        return "libtorch" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


BUILD = """
import sys, time
start = time.perf_counter()
import app
from mlsharp.config import build_config
config, _ = build_config({"model": {"backend": "preview", "temp_dir": sys.argv[1]}, "cache": {"dir": sys.argv[1]},
                          "logging": {"file": False}})
app.MLSharpApp(config)
rss = next(line for line in open("/proc/self/status") if line.startswith("VmRSS")).split()[1]
print(f"{time.perf_counter() - start:.2f} {int(rss) / 1024:.0f} {'torch' in sys.modules}")
"""


def build_run(root: Path) -> tuple[float, float, bool]:
    """Seconds to import the server and build its app (no workers), its RSS, whether torch came along."""
    out = subprocess.run([sys.executable, "-c", BUILD, str(root)], cwd=REPO, capture_output=True, text=True,
                         check=True).stdout.split()
    return float(out[0]), float(out[1]), out[2] == "True"


def one_run(root: Path, model: dict) -> tuple[float, float, float, bool]:
    config = {
        "browser": {"open": False},
        "logging": {"file": False, "level": "WARNING"},
        "cache": {"dir": str(root / "cache")},
        "model": {"temp_dir": str(root / "tmp"), **model},
        "inference": {"input_size": [512, 512]},
        "performance": {"max_workers": 1},
    }
    root.mkdir(parents=True)
    start = time.perf_counter()
    server = launch_server(root, free_port(), config, timeout=900.0)
    seconds = time.perf_counter() - start
    try:
        server_mb, workers_mb = split_rss(server.pid)
        torch_mapped = maps_libtorch(server.pid)
    finally:
        stop_server(server)
    return seconds, server_mb, workers_mb, torch_mapped


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("preview", "sharp"), default="preview")
    parser.add_argument("--full", action="store_true", help="full-size random weights instead of the tiny network")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="mlsharp-footprint-") as tmp:
        root = Path(tmp)
        if args.backend == "preview":
            model, label = {"backend": "preview"}, "preview"
        elif args.full:
            checkpoint = root / "random.pt"
            print(f"writing a full-size random-weights checkpoint ({random_checkpoint(checkpoint):.0f} s)")
            model, label = {"backend": "sharp", "checkpoint": str(checkpoint)}, "sharp, full-size random weights"
        else:
            if not (TINY / "state_dict.pt").is_file():
                raise SystemExit(f"error: the tiny network is not at {TINY}; use --full")
            model = {"backend": "sharp", "checkpoint": str(TINY / "state_dict.pt"),
                     "model_config": str(TINY / "config.json")}
            label = "sharp, tiny golden network"
        for run in range(args.runs):
            seconds, mb, torch_loaded = build_run(root)
            print(f"build {run + 1}: import + app in {seconds:.2f} s, RSS {mb:.0f} MB, torch imported: "
                  f"{'yes' if torch_loaded else 'no'}", flush=True)
        rows = []
        for run in range(args.runs):
            rows.append(one_run(root / f"run{run}", model))
            seconds, server_mb, workers_mb, mapped = rows[-1]
            print(f"run {run + 1}: ready in {seconds:.2f} s; server RSS {server_mb:.0f} MB, workers "
                  f"{workers_mb:.0f} MB; server maps libtorch: {'yes' if mapped else 'no'}", flush=True)
        print(f"{label}: median ready {statistics.median(r[0] for r in rows):.2f} s, server RSS "
              f"{statistics.median(r[1] for r in rows):.0f} MB, workers {statistics.median(r[2] for r in rows):.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
