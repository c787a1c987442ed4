"""Benchmark the full-size SHARP network (random weights) on this machine; prints figures, asserts nothing.

    python bench/bench_network.py [--sizes 1536 1024] [--segments 1 5] [--runs 1] [--device cpu]

Each (size, segments) case runs in a fresh subprocess so its peak RSS is its own. Also times the
PLY export of a 1.18M-Gaussian scene (the reference's tuple-per-row writer takes ~3.3 s here).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def run_case(size: int, segments: int, runs: int, device: str) -> dict:
    import numpy as np
    import torch

    from sharpnet.predictor import Predictor

    torch.manual_seed(0)
    t0 = time.perf_counter()
    predictor = Predictor.load(None, device=device, checkpoint_segments=segments)
    build_s = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, size=(768, 1024, 3), dtype=np.uint8)
    times, stages = [], []
    for _ in range(runs):
        t = time.perf_counter()
        pred = predictor.predict(rgb, f_px=900.0, input_size=size)
        times.append(time.perf_counter() - t)
        stages.append(pred.timings)
    peak_gpu = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else None
    return {
        "size": size, "segments": segments, "build_s": build_s,
        "predict_s": min(times), "forward_s": min(s["inference"] for s in stages),
        "unproject_s": min(s["unproject"] for s in stages), "gaussians": len(pred.gaussians),
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "peak_gpu_gb": peak_gpu, "threads": torch.get_num_threads(),
    }


def bench_ply(n: int = 1179648) -> dict:
    import numpy as np

    from sharpnet.gaussians import Gaussians
    from sharpnet.utils.ply import save_ply

    rng = np.random.default_rng(0)
    g = Gaussians(
        mean_vectors=(rng.normal(size=(n, 3)) + [0, 0, 5]).astype(np.float32),
        singular_values=rng.uniform(0.001, 0.1, size=(n, 3)).astype(np.float32),
        quaternions=rng.normal(size=(n, 4)).astype(np.float32),
        colors=rng.uniform(size=(n, 3)).astype(np.float32),
        opacities=rng.uniform(0.01, 0.99, size=n).astype(np.float32),
    )
    with tempfile.TemporaryDirectory() as tmp:
        best = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            save_ply(g, 1000.0, 1536, 1536, Path(tmp) / "s.ply")
            best = min(best, time.perf_counter() - t)
        size = (Path(tmp) / "s.ply").stat().st_size
    return {"gaussians": n, "save_ply_s": best, "bytes": size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1536])
    parser.add_argument("--segments", type=int, nargs="+", default=[1, 5])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--case", help=argparse.SUPPRESS)  # internal: run one case in this process
    args = parser.parse_args()
    if args.case:
        size, segments = (int(v) for v in args.case.split(","))
        print(json.dumps(run_case(size, segments, args.runs, args.device)))
        return

    ply = bench_ply()
    print(f"PLY export: {ply['gaussians']:,} Gaussians, {ply['bytes'] / 1e6:.1f} MB in {ply['save_ply_s']:.3f} s "
          f"(reference writer ~3.3 s here: {3.3 / ply['save_ply_s']:.0f}x faster)")
    print(f"{'size':>5} {'segments':>8} {'forward s':>10} {'unproject s':>11} {'predict s':>10} "
          f"{'peak RSS GB':>11} {'peak GPU GB':>11} {'Gaussians':>10}")
    for size in args.sizes:
        for segments in args.segments:
            cmd = [sys.executable, __file__, "--case", f"{size},{segments}", "--runs", str(args.runs),
                   "--device", args.device]
            out = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
            if out.returncode:
                print(f"{size:>5} {segments:>8} failed: {out.stderr.strip().splitlines()[-1:]}")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            gpu = f"{r['peak_gpu_gb']:.2f}" if r["peak_gpu_gb"] is not None else "-"
            print(f"{size:>5} {segments:>8} {r['forward_s']:>10.2f} {r['unproject_s']:>11.2f} "
                  f"{r['predict_s']:>10.2f} {r['peak_rss_gb']:>11.2f} {gpu:>11} {r['gaussians']:>10,}",
                  flush=True)


if __name__ == "__main__":
    main()
