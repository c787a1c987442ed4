"""``/metrics`` lines about the job engine, read at scrape time from the engine itself.

For the ``dramatiq`` engine the numbers are the cluster's (from Redis), so every API server
reports the same ones: scrape one of them, or all and use ``max``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric


class EngineCollector:
    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def describe(self) -> list[Metric]:
        return []  # collected on demand only (the values live in Redis)

    def collect(self) -> Iterator[Metric]:
        facts = self.engine.describe()
        depth = facts.get("queue_depth")
        if depth is not None:
            yield GaugeMetricFamily("jobs_queue_depth", "Jobs accepted and not finished (whole cluster)", value=depth)
        if "redis" not in facts:
            return
        yield GaugeMetricFamily("jobs_redis_up", "1 when Redis answers", value=1 if facts["redis"] == "ok" else 0)
        if facts["redis"] != "ok":
            return
        states = GaugeMetricFamily("jobs_by_state", "Unfinished jobs by state", labels=["state"])
        for state, count in facts["jobs"].items():
            states.add_metric([state], count)
        yield states
        yield GaugeMetricFamily("jobs_workers_alive", "Workers with a recent heartbeat", value=len(facts["workers"]))
        for name, text in (("retries", "Job attempts that failed and were retried"),
                           ("requeued", "Job restarts after the worker running it died"),
                           ("dead_lettered", "Jobs that used up their attempts (dead-letter queue)")):
            yield CounterMetricFamily(f"jobs_{name}", text, value=facts[name])
