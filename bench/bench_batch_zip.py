"""Batch zip download: throughput and memory of the streamed zip; prints figures, asserts nothing.

    python bench/bench_batch_zip.py [--scenes 4] [--gaussians 1179648]

Writes ``--scenes`` PLY files of ``--gaussians`` random Gaussians each (a full-size SHARP scene
has 1,179,648: about 66 MB) with the service's own writer, then streams them through
:func:`mlsharp.batch.zipstream.stream_zip` exactly as ``GET /api/batch/{id}.zip`` does, and
prints MB/s, the archive size against the input, and the peak Python allocation while streaming (tracemalloc)
-- which stays near one read chunk however large the batch, since nothing is built whole.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from mlsharp.batch.zipstream import Member, stream_zip
from mlsharp.service import file_chunks
from sharpnet.gaussians import Gaussians
from sharpnet.io.ply import save_ply


def random_scene(count: int, seed: int) -> Gaussians:
    rng = np.random.default_rng(seed)
    return Gaussians(
        mean_vectors=rng.normal(size=(count, 3)).astype(np.float32),
        singular_values=rng.uniform(1e-3, 1e-1, (count, 3)).astype(np.float32),
        quaternions=rng.normal(size=(count, 4)).astype(np.float32),
        colors=rng.uniform(0, 1, (count, 3)).astype(np.float32),
        opacities=rng.uniform(0.01, 0.99, count).astype(np.float32),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=4)
    parser.add_argument("--gaussians", type=int, default=1_179_648)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for index in range(args.scenes):
            path = Path(folder) / f"scene-{index}.ply"
            save_ply(random_scene(args.gaussians, index), 1000.0, 1536, 1536, path)
            paths.append(path)
        total = sum(p.stat().st_size for p in paths)
        members = [Member(p.name, lambda p=p: file_chunks(p)) for p in paths]
        tracemalloc.start()
        start = time.perf_counter()
        written = sum(len(chunk) for chunk in stream_zip(members))
        seconds = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    rows = (
        ("scenes", f"{args.scenes} x {args.gaussians:,} Gaussians = {total / 1e6:.1f} MB of PLY"),
        ("zip written", f"{written / 1e6:.1f} MB ({written / total:.3f} of the input) in {seconds:.2f} s"),
        ("throughput", f"{total / 1e6 / seconds:.1f} MB/s of PLY input"),
        ("peak Python memory", f"{peak / 1e6:.2f} MB while streaming (tracemalloc)"),
    )
    for label, value in rows:
        print(f"{label:<22}{value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
