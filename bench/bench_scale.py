"""Scaling figures of the dramatiq engine on this machine (preview backend, so the network's own
time does not hide the engine's): jobs per minute with 1 and 2 workers, enqueue -> start latency
(p50/p95), how long a SIGKILLed worker's job takes to be started again elsewhere, and the
overhead per job against the local engine.

    python bench/bench_scale.py [--jobs 16] [--side 512] [--heartbeat 5]

Needs redis-server on PATH (run_tests.sh installs it); starts its own on a free loopback port.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import redis
import yaml

from _common import REPO, free_port, jpeg, launch_server, stop_server


def start_redis(root: Path) -> tuple[subprocess.Popen, str]:
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("error: redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--dir", str(root)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    client = redis.Redis(port=port)
    for _ in range(500):
        try:
            client.ping()
            return process, f"redis://127.0.0.1:{port}/0"
        except redis.ConnectionError:
            time.sleep(0.02)
    sys.exit("error: redis-server did not start")


def config(root: Path, side: int, engine: str, redis_url: str, heartbeat: float) -> dict:
    return {
        "browser": {"open": False}, "logging": {"file": False},
        "model": {"backend": "preview", "temp_dir": str(root / "tmp")},
        "cache": {"dir": str(root / "cache"), "enabled": False},
        "inference": {"input_size": [side, side]},
        "performance": {"max_concurrency": 1000},
        "jobs": {"engine": engine, "redis_url": redis_url, "heartbeat_timeout_s": heartbeat},
    }


def start_workers(root: Path, count: int) -> list[subprocess.Popen]:
    workers = []
    for index in range(count):
        log = open(root / f"worker{index}.log", "ab")
        workers.append(subprocess.Popen([sys.executable, "app.py", "worker", "--config", str(root / "config.yaml")],
                                        cwd=REPO, stdout=log, stderr=subprocess.STDOUT))
    return workers


def submit(client: httpx.Client, data: bytes) -> str:
    response = client.post("/api/jobs", files={"file": ("p.jpg", data, "image/jpeg")})
    response.raise_for_status()
    return response.json()["job_id"]


def wait_done(client: httpx.Client, ids: list[str], deadline_s: float = 600.0) -> dict[str, float]:
    done: dict[str, float] = {}
    end = time.monotonic() + deadline_s
    while len(done) < len(ids) and time.monotonic() < end:
        for job_id in ids:
            state = client.get(f"/api/jobs/{job_id}").json()["state"] if job_id not in done else None
            if state == "done":
                done[job_id] = time.perf_counter()
            elif state is not None and state != "queued" and state != "running":
                sys.exit(f"error: job {job_id} ended {state}; see the logs under the bench folder")
        time.sleep(0.02)
    if len(done) < len(ids):
        sys.exit("error: jobs did not finish")
    return done


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def sequential(client: httpx.Client, photos: list[bytes]) -> dict[str, float]:
    """Client-side submit -> done time of jobs sent one after the other (idle workers), by job id."""
    times = {}
    for data in photos:
        start = time.perf_counter()
        job_id = submit(client, data)
        times[job_id] = wait_done(client, [job_id])[job_id] - start
    return times


def queue_latency(store: redis.Redis, ids) -> list[float]:
    """Enqueued (API) -> first started (worker), from the job records in Redis."""
    return [float(store.hget(f"mlsharp:job:{i}", "started")) - float(store.hget(f"mlsharp:job:{i}", "created"))
            for i in ids]


def run_cluster(root: Path, redis_url: str, workers: int, args: argparse.Namespace, photos: list[bytes]) -> dict:
    store = redis.Redis.from_url(redis_url)
    store.flushdb()
    port = free_port()
    cfg = config(root, args.side, "dramatiq", redis_url, args.heartbeat)
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
    procs = start_workers(root, workers)
    (root / f"api{workers}").mkdir(parents=True, exist_ok=True)
    api = launch_server(root / f"api{workers}", port, cfg)
    result: dict = {}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            while len(client.get("/api/health").json()["jobs"]["workers"]) < workers:
                time.sleep(0.1)
            sequential(client, photos[:2])  # warm-up
            ids = [submit(client, data) for data in photos[2:12]]
            wait_done(client, ids)
            result["latency_burst"] = queue_latency(store, ids)
            result["seq"] = sequential(client, photos[12:20])
            result["latency_idle"] = queue_latency(store, result["seq"])
            start = time.perf_counter()
            ids = [submit(client, data) for data in photos[:args.jobs]]
            finished = wait_done(client, ids)
            result["jobs_per_min"] = 60.0 * len(ids) / (max(finished.values()) - start)
            if workers >= 2:
                result["requeue_s"] = requeue_time(client, store, procs[0], photos[21:40])
    finally:
        stop_server(api)
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=60)
    return result


def requeue_time(client: httpx.Client, store: redis.Redis, victim: subprocess.Popen, photos: list[bytes]) -> float:
    """SIGKILL ``victim`` mid-job; seconds until another worker starts that job."""
    prefix = f"{socket.gethostname()}-{victim.pid}-".encode()
    ids = [submit(client, data) for data in photos]
    while True:
        for job_id in ids:
            owner, state = store.hmget(f"mlsharp:job:{job_id}", "worker", "state")
            if owner and owner.startswith(prefix) and state == b"running":
                os.kill(victim.pid, signal.SIGSTOP)
                if store.hget(f"mlsharp:job:{job_id}", "state") == b"running":
                    os.kill(victim.pid, signal.SIGKILL)
                    killed = time.perf_counter()
                    victim.wait()
                    while int(store.hget(f"mlsharp:job:{job_id}", "attempts")) < 2:
                        time.sleep(0.01)
                    elapsed = time.perf_counter() - killed
                    wait_done(client, ids)
                    return elapsed
                os.kill(victim.pid, signal.SIGCONT)
        time.sleep(0.002)


def run_local(root: Path, args: argparse.Namespace, photos: list[bytes]) -> list[float]:
    port = free_port()
    (root / "local").mkdir(parents=True, exist_ok=True)
    api = launch_server(root / "local", port, config(root, args.side, "local", "", args.heartbeat))
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            sequential(client, photos[:2])
            return list(sequential(client, photos[12:20]).values())
    finally:
        stop_server(api)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=16, help="jobs submitted at once for the throughput figure")
    parser.add_argument("--side", type=int, default=512, help="network input side (preview backend)")
    parser.add_argument("--heartbeat", type=float, default=5.0, help="jobs.heartbeat_timeout_s")
    args = parser.parse_args()
    photos = [jpeg(seed, 640, 480) for seed in range(max(40, args.jobs))]
    root = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    redis_proc, redis_url = start_redis(root)
    try:
        local = run_local(root, args, photos)
        one = run_cluster(root / "w1", redis_url, 1, args, photos)
        two = run_cluster(root / "w2", redis_url, 2, args, photos)
    finally:
        redis_proc.terminate()
        redis_proc.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)
    print(f"preview backend, input {args.side}, 640x480 JPEGs, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    print(f"jobs/min, {args.jobs} jobs at once:   1 worker {one['jobs_per_min']:.1f}   2 workers {two['jobs_per_min']:.1f}")
    for name, res in (("1 worker", one), ("2 workers", two)):
        burst, idle = res["latency_burst"], res["latency_idle"]
        print(f"enqueue->start ({name}): idle workers p50 {percentile(idle, 0.5) * 1000:.0f} ms "
              f"p95 {percentile(idle, 0.95) * 1000:.0f} ms; 10 queued at once p50 "
              f"{percentile(burst, 0.5) * 1000:.0f} ms p95 {percentile(burst, 0.95) * 1000:.0f} ms")
    print(f"killed worker's job started again after {two['requeue_s']:.2f} s (jobs.heartbeat_timeout_s = {args.heartbeat:g})")
    lm, dm = statistics.median(local), statistics.median(one["seq"].values())
    print(f"submit->done per job, one at a time: local {lm * 1000:.0f} ms, dramatiq {dm * 1000:.0f} ms "
          f"(overhead {(dm - lm) * 1000:+.0f} ms per job)")


if __name__ == "__main__":
    main()
