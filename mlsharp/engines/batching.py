"""How the local engine's jobs reach its pool workers, and how waiting ones share a forward.

``optimization.max_batch_size`` (B) lets a worker compute up to B waiting photos of the same input
side in one forward, which is what a GPU is fastest at. Jobs are never held back to fill a batch:
a free worker takes what is waiting *now*, so on an idle server every job runs alone and batches
form only when jobs queue behind busy workers.

* Every job joins the :class:`Gatherer`'s queue (first come, first served) under its batch key:
  the requested side and the draft side, the only options that change the network's input
  (the focal length is per photo inside a forward). One pump task hands out the free pool slots:
  for each, the first waiting job plus up to B-1 later ones with the same key become a
  :class:`Group`, which keeps that slot until its last member has left. Jobs of another side are
  never mixed in; they may be passed over by a batch of the head's side.
* Each member runs the usual flow (:func:`mlsharp.engines.flow.run_job`) with the group as its
  steps. ``prepare`` is one worker call per photo, one at a time on the slot, keeping the decoded
  photos of the other members held in the worker. ``execute`` is a rendezvous: once every member
  still in the group waits at an execute (the others left: cache hit, bad photo, cancelled), the
  waiting calls of one side go to the worker together
  (:func:`mlsharp.engines.task.execute_batch`); one call alone goes as
  :func:`mlsharp.engines.task.execute`, so B=1 is exactly the one-job-per-slot path of before.
* Stages: the worker's stage messages for a batch reach every member's job; a member's error is
  its own (the worker returns per-photo results), except a crash or timeout of the worker call,
  which ends every job in that call (as it would have ended each alone).
* Cancel: a cancelled member leaves at once. When it was the last one of its group, the worker's
  work is stopped (the slot is rebuilt, as before); otherwise the others' batch goes on and the
  cancelled job's scene is deleted when the worker returns it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mlsharp.engines import JobSpec
from mlsharp.engines.task import Executed, Prepared, execute, execute_batch, prepare


def batch_key(spec: JobSpec) -> tuple[int, int | None]:
    return (spec.side, spec.draft_side)


@dataclass
class _Call:
    spec: JobSpec
    keep_photo: bool
    on_stage: Callable[[str], Any]
    future: asyncio.Future


@dataclass
class Member:
    spec: JobSpec
    on_stage: Callable[[str], Any]
    assigned: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    waiting: _Call | None = None  # at an execute rendezvous, not yet sent to the worker
    left: bool = False


class Group:
    """Jobs sharing one pool slot; the slot goes back when the last one leaves."""

    def __init__(self, pool: Any, slot: Any, members: list[Member], *, s3: Any, timeout: float | None,
                 discard: Callable[[JobSpec], None]) -> None:
        self.pool, self.slot, self.members = pool, slot, members
        self.s3, self.timeout, self.discard = s3, timeout, discard
        self._lock = asyncio.Lock()  # one worker call at a time on the slot
        self._sending: asyncio.Task | None = None
        self._released = False

    def steps(self, member: Member) -> "_MemberSteps":
        return _MemberSteps(self, member)

    def _live(self) -> list[Member]:
        return [m for m in self.members if not m.left]

    async def prepare(self, spec: JobSpec) -> Prepared:
        keep = tuple(m.spec.job_id for m in self._live() if m.spec.job_id != spec.job_id)
        async with self._lock:
            return await self.pool.run_on(self.slot, prepare, spec, self.s3, keep, timeout=self.timeout)

    async def execute(self, member: Member, spec: JobSpec, keep_photo: bool,
                      on_stage: Callable[[str], Any] | None) -> Executed:
        call = _Call(spec, keep_photo, on_stage or member.on_stage, asyncio.get_running_loop().create_future())
        member.waiting = call
        self._rendezvous()
        try:
            return await call.future
        finally:
            if member.waiting is call:  # cancelled before it was sent
                member.waiting = None

    def _rendezvous(self) -> None:
        """Send the waiting calls once every live member waits (and nothing is being sent)."""
        live = self._live()
        if self._sending is not None or not live or any(m.waiting is None for m in live):
            return
        calls = [m.waiting for m in live]
        for m in live:
            m.waiting = None
        self._sending = asyncio.create_task(self._send(calls), name="mlsharp-batch")

    async def _send(self, calls: list[_Call]) -> None:
        try:
            by_side: dict[int, list[_Call]] = {}
            for call in calls:
                by_side.setdefault(call.spec.side, []).append(call)
            for same_side in by_side.values():
                await self._send_one_side(same_side)
        finally:
            self._sending = None
            self._rendezvous()

    async def _send_one_side(self, calls: list[_Call]) -> None:
        def on_stage(stage: str) -> None:
            for call in calls:
                call.on_stage(stage)

        try:
            async with self._lock:
                if len(calls) == 1:
                    one = calls[0]
                    results: list[Any] = [await self.pool.run_on(
                        self.slot, execute, one.spec, self.s3, None, one.keep_photo,
                        on_stage=on_stage, timeout=self.timeout)]
                else:
                    timeout = self.timeout * len(calls) if self.timeout else None
                    results = await self.pool.run_on(
                        self.slot, execute_batch, [c.spec for c in calls], self.s3,
                        [c.keep_photo for c in calls], on_stage=on_stage, timeout=timeout)
        except asyncio.CancelledError:
            for call in calls:
                call.future.cancel()
            raise
        except Exception as exc:  # noqa: BLE001 - the worker call failed: every job in it did
            results = [exc] * len(calls)
        for call, result in zip(calls, results):
            if call.future.done():  # its job was cancelled meanwhile: nobody will index this scene
                if not isinstance(result, BaseException):
                    self.discard(call.spec)
            elif isinstance(result, BaseException):
                call.future.set_exception(result)
            else:
                call.future.set_result(result)

    def leave(self, member: Member, cancelled: bool = False) -> None:
        """``member`` is done. Cancelled and alone: its work in the worker is stopped as well."""
        member.left = True
        if cancelled and not self._live():
            if self._sending is not None:
                self._sending.cancel()
            self.slot.rebuild("its job was cancelled")
        if not self._live():
            if not self._released:
                self._released = True
                self.pool.release(self.slot)
            return
        self._rendezvous()


@dataclass
class _MemberSteps:
    """The :class:`mlsharp.engines.flow.Steps` of one member of a group."""

    group: Group
    member: Member

    async def prepare(self, spec: JobSpec) -> Prepared:
        return await self.group.prepare(spec)

    async def execute(self, spec: JobSpec, keep_photo: bool = False, on_stage: Any = None) -> Executed:
        return await self.group.execute(self.member, spec, keep_photo, on_stage)


class Gatherer:
    """The queue in front of the pool: forms :class:`Group` s of up to ``max_batch`` jobs."""

    def __init__(self, pool_of: Callable[[], Any], max_batch: int, *, s3: Any, timeout: float | None,
                 discard: Callable[[JobSpec], None]) -> None:
        self.pool_of, self.max_batch = pool_of, max(1, max_batch)
        self.s3, self.timeout, self.discard = s3, timeout, discard
        self._waiting: list[Member] = []
        self._wake = asyncio.Event()
        self._pump: asyncio.Task | None = None

    def waiting(self) -> int:
        return sum(1 for m in self._waiting if not m.assigned.done())

    async def join(self, spec: JobSpec, on_stage: Callable[[str], Any]) -> tuple[Group, Member]:
        """Wait until ``spec`` is in a group that holds a worker."""
        member = Member(spec, on_stage)
        self._waiting.append(member)
        self._wake.set()
        if self._pump is None or self._pump.done():
            self._pump = asyncio.create_task(self._run(), name="mlsharp-gatherer")
        try:
            return await member.assigned, member
        except asyncio.CancelledError:
            if member in self._waiting:
                self._waiting.remove(member)
            elif member.assigned.done() and not member.assigned.cancelled():
                member.assigned.result().leave(member)  # grouped just as it was cancelled
            raise

    def _take(self) -> list[Member]:
        self._waiting = [m for m in self._waiting if not m.assigned.done()]
        if not self._waiting:
            return []
        key = batch_key(self._waiting[0].spec)
        taken = [m for m in self._waiting if batch_key(m.spec) == key][: self.max_batch]
        self._waiting = [m for m in self._waiting if m not in taken]
        return taken

    async def _run(self) -> None:
        while True:
            while not self.waiting():
                self._wake.clear()
                await self._wake.wait()
            pool = self.pool_of()
            try:
                if pool is None:
                    raise RuntimeError("the model is not loaded")
                slot = await pool.acquire()
            except RuntimeError as exc:  # shut down (or never loaded): nobody waits forever
                for member in self._waiting:
                    if not member.assigned.done():
                        member.assigned.set_exception(exc)
                self._waiting = []
                continue
            members = self._take()
            if not members:
                pool.release(slot)
                continue
            group = Group(pool, slot, members, s3=self.s3, timeout=self.timeout, discard=self.discard)
            for member in members:
                member.assigned.set_result(group)

    async def close(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            await asyncio.gather(self._pump, return_exceptions=True)
            self._pump = None
