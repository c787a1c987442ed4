"""What the API servers and the workers of one cluster must agree on, built from one config.

Both sides read the same config file (``jobs.*``, ``storage.*``), so the queue name, the Redis
namespace, the broker's liveness rules and the store locations cannot drift apart.

Liveness (why a SIGKILLed worker's job comes back within a bounded time): Dramatiq's Redis
broker keeps each fetched message in the fetching worker's "acks" set until it is acknowledged
(after the result is stored). Every broker call records a heartbeat and, with
``maintenance_chance`` at its maximum, also moves the unacknowledged messages of workers whose
heartbeat is older than ``heartbeat_timeout`` back to the queue. Idle workers poll about once a
second, so a dead worker's job is requeued at most ``jobs.heartbeat_timeout_s`` + ~1 s after its
last heartbeat. A busy worker makes no broker calls, so workers also beat from a thread of their
own (:mod:`mlsharp.engines.dramatiq_worker`), otherwise a long job would look dead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from mlsharp.storage import S3Settings, Store, is_s3, open_store

QUEUE = "mlsharp-predict"
ACTOR = "mlsharp_predict"
MAINTENANCE_EVERY_CALL = 1_000_000  # Dramatiq counts the chance per million broker calls


@dataclass(frozen=True)
class ClusterSettings:
    redis_url: str = "redis://127.0.0.1:6379/0"
    namespace: str = "mlsharp"
    max_queue: int = 64
    max_attempts: int = 3
    time_limit_s: float = 600.0
    heartbeat_timeout_s: float = 15.0
    results: str = "cache"
    inflight: str | None = None
    s3: S3Settings = field(default_factory=S3Settings)
    downloads: str = "stream"  # or "redirect" (presigned URL, S3 only)
    presign_expiry_s: int = 600
    cache_size: int = 100
    cache_enabled: bool = True
    job_ttl_s: int = 86_400

    @property
    def inflight_root(self) -> str:
        return self.inflight or f"{self.results.rstrip('/')}/inflight"


def settings_from(config: Any) -> ClusterSettings:
    """The cluster settings of ``config`` (``jobs`` and ``storage`` sections)."""
    jobs, storage = getattr(config, "jobs", None), getattr(config, "storage", None)
    results = getattr(storage, "results", None) or str(config.path(config.cache.dir))
    if not is_s3(results):
        results = str(config.path(results))
    inflight = getattr(storage, "inflight", None)
    if inflight and not is_s3(inflight):
        inflight = str(config.path(inflight))
    s3 = S3Settings(
        endpoint_url=getattr(storage, "s3_endpoint_url", None) or os.environ.get("AWS_ENDPOINT_URL_S3"),
        region=getattr(storage, "s3_region", None),
    )
    return ClusterSettings(
        redis_url=getattr(jobs, "redis_url", None) or os.environ.get("MLSHARP_REDIS_URL")
        or ClusterSettings.redis_url,
        namespace=getattr(jobs, "namespace", ClusterSettings.namespace),
        max_queue=getattr(jobs, "max_queue", ClusterSettings.max_queue),
        max_attempts=getattr(jobs, "max_attempts", ClusterSettings.max_attempts),
        time_limit_s=getattr(jobs, "time_limit_s", config.performance.predict_timeout),
        heartbeat_timeout_s=getattr(jobs, "heartbeat_timeout_s", ClusterSettings.heartbeat_timeout_s),
        results=results,
        inflight=inflight,
        s3=s3,
        downloads=getattr(storage, "downloads", ClusterSettings.downloads),
        presign_expiry_s=getattr(storage, "presign_expiry_s", ClusterSettings.presign_expiry_s),
        cache_size=config.cache.size,
        cache_enabled=config.cache.enabled,
    )


def connect(settings: ClusterSettings) -> Any:
    import redis

    return redis.Redis.from_url(settings.redis_url, socket_connect_timeout=5, socket_timeout=30,
                                health_check_interval=30)


def redis_problem(settings: ClusterSettings, client: Any = None) -> str | None:
    """Why Redis cannot be used (one line), checked before anything is loaded or bound."""
    try:
        (client or connect(settings)).ping()
    except Exception as exc:  # noqa: BLE001 - redis' connection errors vary
        return (f"cannot reach Redis at {settings.redis_url} ({exc}); start redis-server or fix "
                "jobs.redis_url / --redis-url")
    return None


def make_broker(settings: ClusterSettings, middleware: list | None = None) -> Any:
    from dramatiq.brokers.redis import RedisBroker

    broker = RedisBroker(
        url=settings.redis_url,
        namespace=f"{settings.namespace}-dramatiq",
        heartbeat_timeout=int(settings.heartbeat_timeout_s * 1000),
        maintenance_chance=MAINTENANCE_EVERY_CALL,
        middleware=middleware if middleware is not None else [],
    )
    broker.declare_queue(QUEUE)
    return broker


def stores(settings: ClusterSettings) -> tuple[Store, Store]:
    """(results store, photos-in-flight store)."""
    return open_store(settings.results, settings.s3), open_store(settings.inflight_root, settings.s3)


def indexes(client: Any, settings: ClusterSettings, results: Store) -> tuple[Any, Any]:
    """(result cache index, bounded index of uncached outputs), both in Redis."""
    from mlsharp.engines.redis_cache import RedisResultIndex

    return (
        RedisResultIndex(client, "results", results, settings.cache_size, settings.cache_enabled,
                         settings.namespace),
        RedisResultIndex(client, "uncached", results, settings.cache_size, True, settings.namespace),
    )
