"""Benchmark the full-size SHARP network (random weights) on this machine; prints figures, asserts nothing.

    python bench/bench_network.py [--sizes 1536 1024 768] [--configs fp32 int8 channels_last ort ort+int8]
                                  [--segments 1 5] [--runs 1] [--warmup 0] [--device cpu]

A configuration is ``fp32`` or fast paths joined by ``+`` (``bf16``, ``fp16``, ``channels_last``,
``int8``, ``compile``; ``ort`` runs the ONNX export through onnxruntime, its export time reported
apart), e.g. ``bf16+channels_last`` or ``ort+int8``. Each (size, configuration, segments) case
runs in a fresh subprocess. Memory is reported twice: what the built model holds, and the peak
*during prediction* (the RSS high-water mark is reset after the model is built, through
/proc/self/clear_refs, so building the model does not hide the forward's peak). On CUDA the
allocator's peak is reset the same way. Speed-ups are against fp32 eager without segments at the
same size. Also times the PLY export of a 1.18M-Gaussian scene (the reference's tuple-per-row
writer takes ~3.3 s here).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import reset_peak_rss, status_gb


def parse_config(label: str, segments: int):
    from sharpnet.options import InferenceOptions

    try:
        return InferenceOptions.from_label(label, segments=segments)
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None


def run_case(size: int, config: str, segments: int, runs: int, warmup: int, device: str) -> dict:
    import numpy as np
    import torch

    from sharpnet.predictor import Predictor

    torch.manual_seed(0)
    t0 = time.perf_counter()
    options = parse_config(config, segments)
    onnx_dir = tempfile.mkdtemp(prefix="bench-onnx-") if options.runtime == "onnxruntime" else None
    predictor = Predictor.load(None, device=device, options=options, onnx_dir=onnx_dir)
    build_s = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, size=(768, 1024, 3), dtype=np.uint8)
    export_s = None
    if onnx_dir is not None:  # the export (and int8 quantization) happens once per size; not a forward
        t = time.perf_counter()
        predictor.prepare(size)
        export_s = time.perf_counter() - t
    for _ in range(warmup):
        predictor.predict(rgb, f_px=900.0, input_size=size)
    gc.collect()
    model_rss = status_gb("VmRSS")
    reset = reset_peak_rss()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times, stages = [], []
    for _ in range(runs):
        t = time.perf_counter()
        pred = predictor.predict(rgb, f_px=900.0, input_size=size)
        times.append(time.perf_counter() - t)
        stages.append(pred.timings)
    peak_gpu = torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else None
    return {
        "size": size, "config": config, "segments": segments, "build_s": build_s,
        "predict_s": min(times), "forward_s": min(s["inference"] for s in stages),
        "unproject_s": min(s["unproject"] for s in stages), "gaussians": len(pred.gaussians),
        "model_rss_gb": model_rss, "peak_rss_gb": status_gb("VmHWM") if reset else None,
        "peak_gpu_gb": peak_gpu, "threads": torch.get_num_threads(), "export_s": export_s,
        "providers": getattr(predictor.runner_for(size), "providers", None) if onnx_dir else None,
    }


def bench_ply(n: int = 1179648) -> dict:
    import numpy as np

    from sharpnet.gaussians import Gaussians
    from sharpnet.io.ply import save_ply

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
    parser.add_argument("--configs", nargs="+", default=["fp32"])
    parser.add_argument("--segments", type=int, nargs="+", default=[1, 5])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=0, help="untimed predictions first (use >= 1 on a GPU)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-ply", action="store_true", help="skip the PLY export timing")
    parser.add_argument("--case", help=argparse.SUPPRESS)  # internal: run one case in this process
    args = parser.parse_args()
    if args.case:
        size, config, segments = args.case.split(",")
        print(json.dumps(run_case(int(size), config, int(segments), args.runs, args.warmup, args.device)))
        return
    for config in args.configs:
        parse_config(config, 1)  # fail fast on a typo, before minutes of benchmarking

    if not args.no_ply:
        ply = bench_ply()
        print(f"PLY export: {ply['gaussians']:,} Gaussians, {ply['bytes'] / 1e6:.1f} MB in {ply['save_ply_s']:.3f} s "
              f"(reference writer ~3.3 s here: {3.3 / ply['save_ply_s']:.0f}x faster)")
    header = (f"{'size':>5} {'config':<22} {'seg':>3} {'forward s':>9} {'x fp32':>6} {'unproj s':>8} "
              f"{'predict s':>9} {'model GB':>8} {'peak GB':>7} {'+pred GB':>8} {'GPU GB':>6}")
    print(header, flush=True)
    for size in args.sizes:
        baseline = None
        for config in args.configs:
            for segments in args.segments:
                cmd = [sys.executable, __file__, "--case", f"{size},{config},{segments}", "--runs", str(args.runs),
                       "--warmup", str(args.warmup), "--device", args.device]
                out = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
                if out.returncode:
                    print(f"{size:>5} {config:<22} {segments:>3} failed: {out.stderr.strip().splitlines()[-1:]}",
                          flush=True)
                    continue
                r = json.loads(out.stdout.strip().splitlines()[-1])
                if config == "fp32" and segments == 1:
                    baseline = r["forward_s"]
                ratio = f"{baseline / r['forward_s']:.2f}" if baseline else "-"
                gb = lambda v: f"{v:.2f}" if v is not None else "-"  # noqa: E731
                extra = r["peak_rss_gb"] - r["model_rss_gb"] if r["peak_rss_gb"] and r["model_rss_gb"] else None
                print(f"{size:>5} {config:<22} {segments:>3} {r['forward_s']:>9.2f} {ratio:>6} {r['unproject_s']:>8.2f} "
                      f"{r['predict_s']:>9.2f} {gb(r['model_rss_gb']):>8} {gb(r['peak_rss_gb']):>7} {gb(extra):>8} "
                      f"{gb(r['peak_gpu_gb']):>6}", flush=True)
                if r.get("export_s") is not None:
                    print(f"      ({config}: ONNX export + preparation {r['export_s']:.1f} s once per size; "
                          f"providers {r['providers']})", flush=True)


if __name__ == "__main__":
    main()
