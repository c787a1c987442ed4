"""Where does a prediction's memory peak? Prints the peak RSS of each stage; asserts nothing (Linux, CPU).

    python bench/bench_memory.py [--size 1024] [--segments 1 5]

Builds the full-size network with random weights, hooks the entry and exit of its blocks (down
to the encoder's ViTs and upsamplers, the decoders' fusion blocks and the heads) and, at every
entry or exit, reads the process's RSS high-water mark and resets it (/proc/self/clear_refs).
Each interval between two events is charged to the innermost block running, so the table shows
how far above the model's own weights each stage takes the process. Each ``--segments`` value
runs in a fresh subprocess.

The subprocesses run with glibc's mmap threshold fixed at 128 KiB (``MALLOC_MMAP_THRESHOLD_``):
by default glibc raises that threshold as large blocks are freed and then keeps freed tensors in
its heap, so RSS shows what the allocator holds rather than what tensors are alive, and savings
from freeing memory early vanish in the noise. ``--glibc-default`` measures the default instead.
(The fixed threshold costs time -- page faults on every large allocation -- so the service does
not use it; ``bench_network.py`` times the default.)
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time



from _common import reset_peak_rss, status_gb


def profile(size: int, segments: int, depth: int) -> dict:
    import numpy as np
    import torch

    from sharpnet.fast_paths import InferenceOptions
    from sharpnet.predictor import Predictor

    torch.manual_seed(0)
    predictor = Predictor.load(None, options=InferenceOptions(segments=segments))
    gc.collect()
    model_gb = status_gb("VmRSS")
    peaks: dict[str, float] = {}
    stack = ["(outside the network)"]

    def charge() -> None:
        peak = status_gb("VmHWM") or 0.0
        name = stack[-1]
        peaks[name] = max(peaks.get(name, 0.0), peak)
        reset_peak_rss()

    def enter(name):
        def hook(module, args):
            charge()
            stack.append(name)
        return hook

    def leave(name):
        def hook(module, args, output):
            charge()
            stack.pop()
        return hook

    for name, module in predictor.model.named_modules():
        if name and name.count(".") < depth:
            module.register_forward_pre_hook(enter(name))
            module.register_forward_hook(leave(name))
    rgb = np.random.default_rng(0).integers(0, 256, size=(768, 1024, 3), dtype=np.uint8)
    reset_peak_rss()
    start = time.perf_counter()
    predictor.predict(rgb, f_px=900.0, input_size=size)
    charge()
    return {"model_gb": model_gb, "seconds": time.perf_counter() - start, "peaks": peaks}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--segments", type=int, nargs="+", default=[1, 5])
    parser.add_argument("--depth", type=int, default=5, help="hook blocks up to this many dots deep")
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--glibc-default", action="store_true", help="keep glibc's dynamic mmap threshold")
    parser.add_argument("--case", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case is not None:
        print(json.dumps(profile(args.size, args.case, args.depth)))
        return 0
    env = dict(os.environ)
    if not args.glibc_default:
        env["MALLOC_MMAP_THRESHOLD_"] = str(128 * 1024)
    for segments in args.segments:
        out = subprocess.run([sys.executable, __file__, "--size", str(args.size), "--depth", str(args.depth),
                              "--case", str(segments)], capture_output=True, text=True, env=env)
        if out.returncode:
            print(f"segments={segments}: failed: {out.stderr.strip().splitlines()[-1:]}")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        top = sorted(r["peaks"].items(), key=lambda kv: -kv[1])[: args.top]
        overall = max(r["peaks"].values())
        print(f"\nsize {args.size}, segments {segments}: model {r['model_gb']:.2f} GB, peak {overall:.2f} GB "
              f"(+{overall - r['model_gb']:.2f} GB) in {r['seconds']:.0f} s; highest stages:")
        for name, peak in top:
            print(f"  +{peak - r['model_gb']:5.2f} GB  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
