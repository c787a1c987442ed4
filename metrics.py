"""Prometheus metrics of the service, in a registry of its own (one per app, so tests can build many).

GPU gauges are refreshed from ``memory_readings()`` of the device the workers reported
(:class:`mlsharp.reported_device.ReportedDevice`; tests pass a stand-in) right before each exposition rather
than by a background thread: the numbers are as fresh as the scrape and nothing runs while nobody
is looking. HTTP metrics are labelled with the route *template* (``/api/outputs/{output_id}.{fmt}``)
by :class:`HttpMetricsMiddleware`, so arbitrary paths cannot create new label values.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    generate_latest,
)
from starlette.routing import Match

STAGES = ("image_load", "inference", "ply_save", "total")
_PREDICT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
UNMATCHED = "unmatched"


class MetricsManager:
    """The service's Prometheus metrics in a registry of its own, so several apps (tests) never clash."""

    def __init__(
        self,
        gpu_manager: Any = None,
        enable_gpu: bool = True,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self.gpu_manager = gpu_manager
        self.enable_gpu = enable_gpu
        r = self.registry
        self.http_requests = Counter(
            "http_requests_total", "HTTP requests by method, route template and status code",
            ["method", "endpoint", "status"], registry=r,
        )
        self.http_duration = Histogram(
            "http_request_duration_seconds", "HTTP request latency by method and route template",
            ["method", "endpoint"], registry=r,
        )
        self.predict_requests = Counter(
            "predict_requests_total",
            "Prediction requests by outcome (success, bad_request, rejected, rate_limited, error)",
            ["status"], registry=r,
        )
        self.predict_duration = Histogram(
            "predict_duration_seconds", "Wall time of successful predictions, cache hits included",
            buckets=_PREDICT_BUCKETS, registry=r,
        )
        self.stage_duration = Histogram(
            "predict_stage_duration_seconds", "Time spent per prediction stage",
            ["stage"], buckets=_PREDICT_BUCKETS, registry=r,
        )
        self.gpu_memory = Gauge(
            "gpu_memory_used_mb", "GPU memory in use (MB), read at scrape time", ["device_id"], registry=r
        )
        self.gpu_utilization = Gauge(
            "gpu_utilization_percent", "GPU utilisation (percent), read at scrape time",
            ["device_id"], registry=r,
        )
        self.gpu_info = Gauge(
            "gpu_info", "The GPU in use (value is always 1)", ["device_id", "name", "vendor"], registry=r
        )
        self.active_tasks = Gauge(
            "active_tasks", "Predictions admitted and not finished (running or waiting)", registry=r
        )
        self.app_info = Info("app", "Service version, backend and device", registry=r)
        self.input_size_info = Info("input_size", "Network input size in use", registry=r)
        self.cache_hits = Counter("cache_hits_total", "Result cache hits", registry=r)
        self.cache_misses = Counter("cache_misses_total", "Result cache misses", registry=r)
        self.started = time.time()
        self.request_count = 0
        self.describe_gpu()

    # ------------------------------------------------------------------ static facts

    def describe_gpu(self) -> None:
        """The ``gpu_info`` gauge, from the device's info (known once the workers reported it)."""
        if self.gpu_manager is None:
            return
        try:
            info = self.gpu_manager.info()
        except Exception:  # noqa: BLE001 - metrics must never take the app down
            return
        device = str(info.get("device") or "")
        if device.startswith("cpu") or not device:
            return
        device_id = device.split(":", 1)[1] if ":" in device else "0"
        self.gpu_info.labels(device_id, str(info.get("name", "")), str(info.get("vendor", ""))).set(1)

    def set_app_info(self, version: str, backend: str, device: str, model_id: str) -> None:
        self.app_info.info({"version": version, "backend": backend, "device": device, "model_id": model_id})

    def set_input_size(self, side: int) -> None:
        self.input_size_info.info({"width": str(side), "height": str(side)})

    # ------------------------------------------------------------------ events

    def observe_http(self, method: str, endpoint: str, status: int, seconds: float) -> None:
        self.request_count += 1
        self.http_requests.labels(method, endpoint, str(status)).inc()
        self.http_duration.labels(method, endpoint).observe(seconds)

    def observe_predict(self, status: str, timings: dict[str, float] | None = None) -> None:
        self.predict_requests.labels(status).inc()
        if status == "success" and timings:
            self.predict_duration.observe(timings.get("total", 0.0))
            for stage in STAGES:
                if stage in timings:
                    self.stage_duration.labels(stage).observe(timings[stage])

    def cache_lookup(self, hit: bool) -> None:
        (self.cache_hits if hit else self.cache_misses).inc()

    # ------------------------------------------------------------------ exposition

    def refresh_gpu(self) -> list[dict]:
        if not (self.enable_gpu and self.gpu_manager is not None):
            return []
        try:
            readings = list(self.gpu_manager.memory_readings())
        except Exception:  # noqa: BLE001
            return []
        for reading in readings:
            device_id = str(reading.get("device_id", "0"))
            used = reading.get("used_mb")
            if used is not None:
                self.gpu_memory.labels(device_id).set(float(used))
            utilization = reading.get("utilization_percent")
            if utilization is not None:
                self.gpu_utilization.labels(device_id).set(float(utilization))
        return readings

    def generate(self) -> bytes:
        self.refresh_gpu()
        return generate_latest(self.registry)

    content_type = CONTENT_TYPE_LATEST


def route_template(app: Any, scope: dict) -> str:
    """The template of the route that handles ``scope`` (e.g. ``/api/jobs/{job_id}``), without
    path convertors (``{output_id:output_id}`` reads ``{output_id}``)."""
    route = scope.get("route")
    if route is not None and getattr(route, "path", None):
        return getattr(route, "path_format", None) or route.path
    routes: Iterable[Any] = getattr(app, "routes", [])
    for candidate in routes:
        match, _ = candidate.matches(scope)
        if match == Match.FULL:
            return getattr(candidate, "path_format", None) or getattr(candidate, "path", UNMATCHED) or UNMATCHED
    return UNMATCHED


class HttpMetricsMiddleware:
    """Pure ASGI middleware (works with streaming responses) counting every HTTP request."""

    def __init__(self, app: Any, metrics: MetricsManager, router_owner: Any) -> None:
        self.app = app
        self.metrics = metrics
        self.router_owner = router_owner

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message: dict) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            endpoint = route_template(self.router_owner, scope)
            self.metrics.observe_http(
                scope.get("method", "GET"), endpoint, status["code"], time.perf_counter() - start
            )
