"""Load and fault run against a real server on 127.0.0.1; prints figures, asserts nothing.

    python bench/load_fault.py [--requests 200] [--concurrency 6] [--bad-every 5] [--retries 2]

It starts ``python app.py`` with its own temporary cache/temp/log folders (so your cache is not
touched), warms it up, then fires concurrent uploads -- good photos of several sizes mixed with
bad ones (empty, garbage, truncated JPEG, decompression-bomb header, a body over the size limit)
-- in two equal rounds, and SIGKILLs the worker process once in the middle of the second. A 503
is retried up to ``--retries`` times after its Retry-After (capped at 1 s), like a polite client.
Every success is then downloaded and parsed: a result counts as *lost* if its URL does not serve
a complete, valid .ply.

Printed: requests sent, succeeded, rejected (by final status code), transport errors, p50/p95
latency, server RSS (server process and workers) after warm-up and after each round, non-503 5xx
answers to bad input, results lost.

Then (``--faults``; ``--no-load`` runs only these) the operator's faults, each on its own server:

* SIGKILL of the server: how many of its workers and resource tracker are still alive 10 s later;
* a corrupt cache index: how many of the results made before still download after the restart;
* cache hits with ``--entries`` (30,000) results indexed: p50/p95 latency of a hit and of
  ``/api/health`` through HTTP;
* three large photos (``--large-mp``, 90 MP): the server process's RSS idle and after each.
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from _common import free_port, jpeg, launch_server, process_tree, rss_mb, split_rss, stop_server, worker_pids
from mlsharp.cache import ResultCache
from mlsharp.output_ids import new_output_id
from sharpnet.io.ply import read_ply

MAX_UPLOAD_MB = 8.0


def bomb_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def bad_inputs() -> list[tuple[str, bytes]]:
    good = jpeg(99, 320, 240)
    return [
        ("empty", b""),
        ("garbage", b"definitely not a photo" * 10),
        ("truncated-jpeg", good[: len(good) // 2]),
        ("bomb-header", bomb_header(60_000, 60_000)),
        ("oversized", b"\xff" * int((MAX_UPLOAD_MB + 1) * 1e6)),
    ]


def start_server(root: Path, port: int, workers: int, concurrency: int) -> subprocess.Popen:
    return launch_server(root, port, {
        "browser": {"open": False},
        "logging": {"file": False, "level": "WARNING"},
        "cache": {"dir": str(root / "cache"), "size": 1000},
        "model": {"temp_dir": str(root / "tmp")},
        "inference": {"input_size": [1024, 1024]},
        "performance": {"max_workers": workers, "max_concurrency": concurrency, "predict_timeout": 120.0},
        "limits": {"max_upload_mb": MAX_UPLOAD_MB, "max_pixels": 50_000_000},
    })


def fault_server(root: Path, **sections: dict) -> tuple[subprocess.Popen, str]:
    root.mkdir(parents=True, exist_ok=True)
    config = {"browser": {"open": False}, "logging": {"file": False, "level": "WARNING"},
              "cache": {"dir": str(root / "cache"), "size": 100_000}, "model": {"temp_dir": str(root / "tmp")},
              "inference": {"input_size": [512, 512]}, "limits": {"max_upload_mb": 200.0}}
    for name, values in sections.items():
        config[name] = {**config.get(name, {}), **values}
    port = free_port()
    return launch_server(root, port, config), f"http://127.0.0.1:{port}"


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def fault_sigkill(root: Path) -> None:
    server, _ = fault_server(root, performance={"max_workers": 2})
    children = process_tree(server.pid)[1:]
    os.kill(server.pid, signal.SIGKILL)
    server.wait()
    killed, left = time.monotonic(), children
    while left and time.monotonic() - killed < 10.0:
        time.sleep(0.05)
        left = [pid for pid in left if alive(pid)]
    gone = time.monotonic() - killed
    print(f"SIGKILL of the server:  {len(children)} child processes (2 workers + resource tracker); "
          f"alive 10 s later: {len(left)}" + ("" if left else f" (all gone after {gone:.2f} s)"))


def fault_corrupt_index(root: Path, results: int = 20) -> None:
    server, base = fault_server(root)
    urls = []
    with httpx.Client(timeout=120) as client:
        for seed in range(results):
            body = client.post(f"{base}/api/predict", files={"file": ("p.jpg", jpeg(500 + seed, 320, 240), "image/jpeg")}).json()
            urls.append(body["url"])
    stop_server(server)
    index = root / "cache" / "index.sqlite3"
    index.write_bytes(b"\x00garbage" * 500)
    server, base = fault_server(root)
    try:
        kept = sum(1 for url in urls if httpx.get(base + url, timeout=60).status_code == 200)
        aside = len(list((root / "cache").glob("index.sqlite3.broken-*")))
    finally:
        stop_server(server)
    print(f"corrupt cache index:    {kept} of {results} results still download after the restart; "
          f"bad index moved aside: {aside}")


def fault_hit_latency(root: Path, entries: int, lookups: int = 300) -> None:
    cache = ResultCache(root / "cache", max_size=100_000)
    cache.load()
    meta = {"backend": "preview", "num_gaussians": 1, "f_px": 1.0}
    for n in range(entries):
        output_id = new_output_id()
        cache.path_for(output_id).write_bytes(b"ply")
        cache.put(f"filler-{n}", output_id, meta)
    cache.close()
    server, base = fault_server(root)
    photos = [jpeg(900 + n, 320, 240) for n in range(10)]
    hits, health = [], []
    try:
        with httpx.Client(timeout=120) as client:
            for photo in photos:
                client.post(f"{base}/api/predict", files={"file": ("p.jpg", photo, "image/jpeg")})
            for n in range(lookups):
                t0 = time.perf_counter()
                body = client.post(f"{base}/api/predict", files={"file": ("p.jpg", photos[n % 10], "image/jpeg")}).json()
                hits.append(time.perf_counter() - t0)
                assert body["cache_hit"], body
                t0 = time.perf_counter()
                client.get(f"{base}/api/health")
                health.append(time.perf_counter() - t0)
            size = client.get(f"{base}/api/cache").json()["size"]
    finally:
        stop_server(server)

    def pct(values: list[float], p: float) -> float:
        ordered = sorted(values)
        return 1000 * ordered[min(len(ordered) - 1, int(p * len(ordered)))]

    print(f"cache hits, {size} entries: hit p50 {pct(hits, 0.5):.1f} ms, p95 {pct(hits, 0.95):.1f} ms; "
          f"/api/health p50 {pct(health, 0.5):.1f} ms, p95 {pct(health, 0.95):.1f} ms (HTTP round trip)")


def smooth_jpeg(seed: int, side: int) -> bytes:
    """A large photo that is cheap to make and to upload (smooth, so it compresses to a few MB),
    but costs its full pixel count to decode."""
    from PIL import Image

    gradient = Image.linear_gradient("L").resize((side, side))
    rgb = Image.merge("RGB", (gradient, gradient.rotate(90 * (seed % 4)), Image.new("L", (side, side), 40 * seed)))
    buffer = io.BytesIO()
    rgb.save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()


def fault_large_photos(root: Path, megapixels: float, count: int = 3) -> None:
    side = int((megapixels * 1e6) ** 0.5)
    server, base = fault_server(root, limits={"max_pixels": int(megapixels * 1e6) + 10_000_000})
    try:
        idle = rss_mb([server.pid])
        after = []
        with httpx.Client(timeout=600) as client:
            for n in range(count):
                photo = smooth_jpeg(n, side)
                response = client.post(f"{base}/api/predict", files={"file": ("big.jpg", photo, "image/jpeg")})
                del photo
                after.append((response.status_code, rss_mb([server.pid])))
    finally:
        stop_server(server)
    steps = ", ".join(f"{mb:.0f} MB ({code})" for code, mb in after)
    print(f"{count} photos of {side}x{side} ({side * side / 1e6:.0f} MP): server RSS idle {idle:.0f} MB, "
          f"after each: {steps}")


def run_faults(args: argparse.Namespace) -> None:
    root = Path(tempfile.mkdtemp(prefix="mlsharp-faults-"))
    fault_sigkill(root / "sigkill")
    fault_corrupt_index(root / "corrupt")
    fault_hit_latency(root / "hits", args.entries)
    fault_large_photos(root / "large", args.large_mp)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="uploads in the main run")
    parser.add_argument("--concurrency", type=int, default=6, help="client threads")
    parser.add_argument("--retries", type=int, default=2, help="retries of a 503 after its Retry-After")
    parser.add_argument("--bad-every", type=int, default=5, help="every Nth upload is a bad one")
    parser.add_argument("--server-concurrency", type=int, default=4, help="performance.max_concurrency")
    parser.add_argument("--workers", type=int, default=1, help="performance.max_workers")
    parser.add_argument("--deadline", type=float, default=300.0, help="stop sending after this many seconds")
    parser.add_argument("--faults", action="store_true", help="also run the operator's faults (see above)")
    parser.add_argument("--no-load", action="store_true", help="run only the faults")
    parser.add_argument("--entries", type=int, default=30_000, help="results indexed for the hit-latency fault")
    parser.add_argument("--large-mp", type=float, default=90.0, help="megapixels of the large photos")
    args = parser.parse_args()
    if args.faults or args.no_load:
        run_faults(args)
    if args.no_load:
        return 0

    root = Path(tempfile.mkdtemp(prefix="mlsharp-load-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(root, port, args.workers, args.server_concurrency)
    backend = httpx.get(f"{base}/api/health").json()["backend"]
    try:
        bads = bad_inputs()
        with httpx.Client(timeout=120) as client:  # warm-up: allocator, caches, first spawn
            for seed, size in enumerate([(640, 480), (1280, 960), (2000, 1500)]):
                client.post(f"{base}/api/predict", files={"file": ("w.jpg", jpeg(seed, *size), "image/jpeg")})
        rss = [("after warm-up", *split_rss(server.pid))]

        # Good uploads are mostly new photos (so both rounds keep the worker busy); every fourth
        # repeats an earlier one (a cache hit). Photos are made lazily from their seed.
        sizes = [(640, 480), (1280, 960), (2000, 1500)]
        plan: list[tuple[str, object]] = []
        for n in range(args.requests):
            if args.bad_every and n % args.bad_every == args.bad_every - 1:
                plan.append(bads[(n // args.bad_every) % len(bads)])
            else:
                seed = n // 2 if n % 4 == 3 else 1000 + n
                plan.append(("good", (seed, sizes[seed % len(sizes)])))
        half = len(plan) // 2
        results: list[tuple[str, int | str, float, dict | None]] = []
        lock = threading.Lock()
        started = time.monotonic()
        counter = {"sent": 0, "kill_at": half + half // 2}
        killed: list[int] = []
        local = threading.local()

        def fire(item: tuple[str, object]) -> None:
            kind, data = item
            if kind == "good":
                seed, (width, height) = data
                data = jpeg(seed, width, height)
            if time.monotonic() - started > args.deadline:
                return
            with lock:
                counter["sent"] += 1
                number = counter["sent"]
            if number == counter["kill_at"]:
                victims = worker_pids(server.pid)
                if victims:
                    os.kill(victims[0], signal.SIGKILL)
                    killed.append(victims[0])
            if not hasattr(local, "client"):
                local.client = httpx.Client(timeout=180)
            t0 = time.monotonic()
            status: int | str = "not sent"
            body = None
            for attempt in range(args.retries + 1):
                try:
                    response = local.client.post(f"{base}/api/predict",
                                                 files={"file": (f"{kind}.jpg", data, "image/jpeg")})
                except httpx.HTTPError as exc:
                    status, body = type(exc).__name__, None
                    break
                status = response.status_code
                is_json = response.headers.get("content-type", "").startswith("application/json")
                body = response.json() if is_json else None
                if status != 503 or attempt == args.retries:
                    break
                time.sleep(min(1.0, float(response.headers.get("Retry-After", "1"))))
            with lock:
                results.append((kind, status, time.monotonic() - t0, body))

        for label, part in (("after round 1", plan[:half]), ("after round 2 (worker killed)", plan[half:])):
            with ThreadPoolExecutor(args.concurrency) as pool:
                list(pool.map(fire, part))
            rss.append((label, *split_rss(server.pid)))
        wall = time.monotonic() - started

        lost = 0
        with httpx.Client(timeout=120) as client:
            for kind, status, _, body in results:
                if status == 200 and body:
                    response = client.get(base + body["url"])
                    try:
                        gaussians, _ = read_ply(response.content)
                        ok = response.status_code == 200 and len(gaussians) == body["num_gaussians"]
                    except ValueError:
                        ok = False
                    lost += 0 if ok else 1
        health = httpx.get(f"{base}/api/stats").json()
    finally:
        stop_server(server)

    latencies = sorted(t for _, s, t, _ in results if s == 200)
    codes = Counter(s for _, s, _, _ in results if s != 200 and isinstance(s, int))
    errors = Counter(s for _, s, _, _ in results if isinstance(s, str))
    bad_5xx = sum(1 for k, s, _, _ in results if k != "good" and isinstance(s, int) and s >= 500 and s != 503)
    bad_codes = Counter(f"{k}->{s}" for k, s, _, _ in results if k != "good")

    def pct(p: float) -> str:
        return f"{latencies[min(len(latencies) - 1, int(p * len(latencies)))]:.3f} s" if latencies else "n/a"

    print(f"backend: {backend}; server: {args.workers} worker(s), max_concurrency {args.server_concurrency}; "
          f"client: {args.concurrency} threads")
    print(f"requests sent:      {len(results)} in {wall:.1f} s")
    print(f"succeeded:          {sum(1 for _, s, _, _ in results if s == 200)}")
    print(f"rejected by code:   {dict(sorted(codes.items()))}")
    print(f"bad inputs:         {dict(sorted(bad_codes.items()))}")
    print(f"5xx (not 503) on bad input: {bad_5xx}")
    print(f"transport errors:   {dict(errors) or 0}")
    print(f"latency (200s):     p50 {pct(0.50)}, p95 {pct(0.95)}")
    print(f"worker killed:      pid {killed[0] if killed else 'none found'}; "
          f"pool restarts reported: {health['worker_restarts']}")
    for label, main_mb, workers_mb in rss:
        print(f"server RSS {label + ':':<32} server {main_mb:.0f} MB, workers {workers_mb:.0f} MB")
    print(f"results lost:       {lost}")
    print(f"exit code on SIGINT: {server.returncode}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
