"""A worker's own Prometheus metrics (its API server cannot see inside it).

Scrape each worker's ``--metrics-port``; the API's ``/metrics`` has the cluster-wide view
(queue depth, jobs by state, retries, dead letters, live workers).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server


class WorkerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.jobs = Counter("mlsharp_worker_jobs_total", "Jobs this worker ended, by outcome",
                            ["outcome"], registry=self.registry)
        self.seconds = Histogram("mlsharp_worker_job_seconds", "Wall time of this worker's successful jobs",
                                 buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300), registry=self.registry)
        self.up = Gauge("mlsharp_worker_up", "1 while this worker consumes jobs", registry=self.registry)
        self.up.set(1)

    def observe(self, outcome: str, seconds: float | None = None) -> None:
        self.jobs.labels(outcome).inc()
        if seconds is not None:
            self.seconds.observe(seconds)

    def serve(self, port: int, host: str = "127.0.0.1") -> None:
        start_http_server(port, addr=host, registry=self.registry)
