"""Cache index latency at scale: prints hit, miss, put and /stats latencies; asserts nothing.

    python bench/bench_cache.py [--entries 30000] [--lookups 2000]

Fills a :class:`mlsharp.cache.ResultCache` in a temporary folder with ``--entries`` outputs (tiny
files plus their sidecars, as the service writes them), then times random hits (lookup, file
check and recency update), misses, puts that evict (cache full), ``len`` and a restart's ``load``.
The goal for a hit is under 10 ms at the 95th percentile (the JSON index took 0.9 s at 30,000).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path


from mlsharp.cache import ResultCache
from mlsharp.output_ids import new_output_id


def timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return (time.perf_counter() - start) * 1000.0


def summary(label: str, samples: list[float]) -> None:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    print(f"{label:<22} p50 {statistics.median(ordered):7.3f} ms   p95 {p95:7.3f} ms   "
          f"max {ordered[-1]:7.3f} ms   (n={len(ordered)})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=30_000)
    parser.add_argument("--lookups", type=int, default=2000)
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="mlsharp-cache-bench-") as tmp:
        cache = ResultCache(Path(tmp) / "cache", max_size=args.entries)
        cache.load()
        meta = {"backend": "preview", "num_gaussians": 1, "f_px": 100.0}
        start = time.perf_counter()
        keys = []
        for n in range(args.entries):
            output_id = new_output_id()
            cache.path_for(output_id).write_bytes(b"ply")
            cache.put(f"key-{n}", output_id, meta)
            keys.append(f"key-{n}")
        fill = time.perf_counter() - start
        print(f"filled {args.entries} entries in {fill:.1f} s ({1000 * fill / args.entries:.2f} ms per put)")
        summary("hit", [timed(cache.get, rng.choice(keys)) for _ in range(args.lookups)])
        summary("miss", [timed(cache.get, f"absent-{n}") for n in range(args.lookups)])

        def evicting_put(n: int) -> None:
            output_id = new_output_id()
            cache.path_for(output_id).write_bytes(b"ply")
            cache.put(f"new-{n}", output_id, meta)

        summary("put (evicts one)", [timed(evicting_put, n) for n in range(min(500, args.lookups))])
        summary("len / stats", [timed(cache.stats) for _ in range(200)])
        cache.close()
        again = ResultCache(Path(tmp) / "cache", max_size=args.entries)
        summary("restart load", [timed(again.load)])
        again.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
