"""Job state in Redis, so any API server answers for work done by any worker.

``<ns>:job:<id>`` is a hash (state, stage, rank, stage_at, created, finished, attempts, worker,
draft, result, error, spec); ``<ns>:active`` the set of unfinished ids (its size is the cluster's queue depth,
used for admission); ``<ns>:dead`` the dead-lettered ids; ``<ns>:counters`` retries, requeues,
dead letters; ``<ns>:workers`` a sorted set worker id -> last heartbeat with ``<ns>:worker:<id>``
describing it. Stage moves and the final transition are Lua scripts: stages only move forward,
and a job finishes exactly once however many workers ran it (at-least-once delivery).
"""

from __future__ import annotations

import json
import time
from typing import Any

from mlsharp.jobs import STAGE_ORDER

_ADVANCE = """
local state = redis.call('hget', KEYS[1], 'state')
if not state or state == 'done' or state == 'error' or state == 'cancelled' then return 0 end
local rank = tonumber(redis.call('hget', KEYS[1], 'rank') or '0')
if tonumber(ARGV[2]) <= rank then return 0 end
redis.call('hset', KEYS[1], 'stage', ARGV[1], 'rank', ARGV[2], 'state', 'running', 'stage_at', ARGV[3])
return 1
"""
# KEYS: job hash; ARGV: draft JSON, rank of the 'draft' stage, now. Like _ADVANCE, but the draft scene
# and its stage land together, so no reader sees the stage without the scene (or a finished job
# gain a draft).
_DRAFT = """
local state = redis.call('hget', KEYS[1], 'state')
if not state or state == 'done' or state == 'error' or state == 'cancelled' then return 0 end
redis.call('hset', KEYS[1], 'draft', ARGV[1])
local rank = tonumber(redis.call('hget', KEYS[1], 'rank') or '0')
if tonumber(ARGV[2]) > rank then
  redis.call('hset', KEYS[1], 'stage', 'draft', 'rank', ARGV[2], 'state', 'running', 'stage_at', ARGV[3])
end
return 1
"""
# KEYS: job hash, active set; ARGV: state, field name, JSON, finished time, ttl seconds, job id
_FINISH = """
local state = redis.call('hget', KEYS[1], 'state')
if not state or state == 'done' or state == 'error' or state == 'cancelled' then return 0 end
redis.call('hset', KEYS[1], 'state', ARGV[1], 'stage', ARGV[1], ARGV[2], ARGV[3], 'finished', ARGV[4])
redis.call('expire', KEYS[1], tonumber(ARGV[5]))
redis.call('srem', KEYS[2], ARGV[6])
return 1
"""


class RedisJobs:
    def __init__(self, client: Any, namespace: str = "mlsharp", ttl_s: int = 86_400) -> None:
        self.client, self.ns, self.ttl_s = client, namespace, ttl_s
        self._advance = client.register_script(_ADVANCE)
        self._finish = client.register_script(_FINISH)
        self._draft = client.register_script(_DRAFT)

    def _job(self, job_id: str) -> str:
        return f"{self.ns}:job:{job_id}"

    @property
    def _active(self) -> str:
        return f"{self.ns}:active"

    # ------------------------------------------------------------------ API side

    def create(self, job_id: str, spec: dict[str, Any]) -> None:
        pipe = self.client.pipeline()
        pipe.hset(self._job(job_id), mapping={"state": "queued", "stage": "queued", "rank": 0,
                                              "created": time.time(), "attempts": 0,
                                              "spec": json.dumps(spec)})
        pipe.expire(self._job(job_id), self.ttl_s * 7)  # a job never finished is still forgotten
        pipe.sadd(self._active, job_id)
        pipe.execute()

    def create_done(self, job_id: str, result: dict[str, Any]) -> None:
        now = time.time()
        self.client.hset(self._job(job_id), mapping={
            "state": "done", "stage": "done", "rank": len(STAGE_ORDER), "created": now, "finished": now,
            "attempts": 0, "result": json.dumps(result)})
        self.client.expire(self._job(job_id), self.ttl_s)

    def snapshot(self, job_id: str) -> dict[str, Any] | None:
        raw = self.client.hgetall(self._job(job_id))
        if not raw:
            return None
        data = {k.decode(): v.decode() for k, v in raw.items()}
        created = float(data.get("created", 0.0))
        end = float(data["finished"]) if "finished" in data else time.time()
        stage_at = float(data.get("stage_at", created))
        return {
            "job_id": job_id,
            "state": data["state"],
            "stage": data["stage"],
            "elapsed_s": round(max(0.0, end - created), 3),
            "stage_elapsed_s": round(max(0.0, end - stage_at), 3),
            "draft": json.loads(data["draft"]) if "draft" in data else None,
            "result": json.loads(data["result"]) if "result" in data else None,
            "error": json.loads(data["error"]) if "error" in data else None,
            "attempts": int(data.get("attempts", 0)),
            "worker": data.get("worker"),
        }

    def spec(self, job_id: str) -> dict[str, Any] | None:
        raw = self.client.hget(self._job(job_id), "spec")
        return json.loads(raw) if raw else None

    def depth(self) -> int:
        return int(self.client.scard(self._active))

    def by_state(self) -> dict[str, int]:
        counts = {"queued": 0, "running": 0}
        for job_id in self.client.smembers(self._active):
            state = self.client.hget(self._job(job_id.decode()), "state")
            if state is not None and state.decode() in counts:
                counts[state.decode()] += 1
        return counts

    # ------------------------------------------------------------------ worker side

    def begin(self, job_id: str, worker_id: str) -> int:
        """A worker starts (or restarts) the job; returns how many times it has been started."""
        pipe = self.client.pipeline()
        pipe.hincrby(self._job(job_id), "attempts", 1)
        pipe.hset(self._job(job_id), "worker", worker_id)
        pipe.hsetnx(self._job(job_id), "started", time.time())  # the first start: queue latency
        attempts, _, _ = pipe.execute()
        if attempts > 1:
            self.count("requeued")
        return int(attempts)

    def advance(self, job_id: str, stage: str) -> None:
        if stage in STAGE_ORDER:
            self._advance(keys=[self._job(job_id)], args=[stage, STAGE_ORDER.index(stage), time.time()])

    def publish_draft(self, job_id: str, result: dict[str, Any]) -> bool:
        """A progressive job's viewable draft scene (stage ``draft``); the final result replaces it.
        False when the job had already finished (cancelled meanwhile): the draft is not shown."""
        return bool(self._draft(keys=[self._job(job_id)],
                                args=[json.dumps(result), STAGE_ORDER.index("draft"), time.time()]))

    def is_finished(self, job_id: str) -> bool:
        state = self.client.hget(self._job(job_id), "state")
        return state is None or state.decode() in ("done", "error", "cancelled")

    def succeed(self, job_id: str, result: dict[str, Any]) -> bool:
        """True when this call finished the job (False: someone else already had)."""
        return bool(self._finish(keys=[self._job(job_id), self._active],
                                 args=["done", "result", json.dumps(result), time.time(), self.ttl_s, job_id]))

    def fail(self, job_id: str, status_code: int, detail: str, dead: bool = False) -> bool:
        error = json.dumps({"status_code": status_code, "detail": detail})
        finished = bool(self._finish(keys=[self._job(job_id), self._active],
                                     args=["error", "error", error, time.time(), self.ttl_s, job_id]))
        if finished and dead:
            self.client.zadd(f"{self.ns}:dead", {job_id: time.time()})
            self.count("dead_lettered")
        return finished

    def cancel(self, job_id: str) -> bool:
        """Finished as cancelled (neither result nor error); False when it had already finished."""
        return bool(self._finish(keys=[self._job(job_id), self._active],
                                 args=["cancelled", "cancelled_at", time.time(), time.time(), self.ttl_s, job_id]))

    def count(self, name: str, by: int = 1) -> None:
        self.client.hincrby(f"{self.ns}:counters", name, by)

    def counters(self) -> dict[str, int]:
        raw = self.client.hgetall(f"{self.ns}:counters")
        return {k.decode(): int(v) for k, v in raw.items()}

    # ------------------------------------------------------------------ workers

    def heartbeat(self, worker_id: str, info: dict[str, Any], ttl_s: float) -> None:
        pipe = self.client.pipeline()
        pipe.zadd(f"{self.ns}:workers", {worker_id: time.time()})
        pipe.set(f"{self.ns}:worker:{worker_id}", json.dumps(info), ex=max(1, int(ttl_s * 3)))
        pipe.execute()

    def leave(self, worker_id: str) -> None:
        self.client.zrem(f"{self.ns}:workers", worker_id)
        self.client.delete(f"{self.ns}:worker:{worker_id}")

    def live_workers(self, timeout_s: float) -> list[dict[str, Any]]:
        """Workers whose last heartbeat is younger than ``timeout_s`` (older ones are pruned)."""
        key = f"{self.ns}:workers"
        cutoff = time.time() - timeout_s
        self.client.zremrangebyscore(key, 0, cutoff)
        live = []
        for worker_id in self.client.zrangebyscore(key, cutoff, "+inf"):
            raw = self.client.get(f"{self.ns}:worker:{worker_id.decode()}")
            live.append({"id": worker_id.decode(), **(json.loads(raw) if raw else {})})
        return live
