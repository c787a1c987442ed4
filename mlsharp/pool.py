"""Inference worker processes that the event loop awaits without ever blocking on them.

Design choices, and why:

* One single-process ``ProcessPoolExecutor`` (spawn context) per worker *slot*, not one shared
  executor. A dead process breaks its whole executor; with one executor per slot a crash fails
  only the request that slot was running, and only that slot is rebuilt. Requests wait for a free
  slot in an ``asyncio.Queue``, so a slot never holds more than one task and nothing is left
  queued inside an executor when it breaks.
* A submit that fails because the executor was already broken (its idle worker was killed) is
  retried once on a rebuilt executor: that task never started, so retrying is safe.
* Progress: each slot has a one-way ``multiprocessing`` pipe whose sending end goes to the worker
  through the initializer; a daemon thread in the server reads ``(token, stage)`` messages and
  calls the listener registered for that token. A pipe (not a ``multiprocessing.Queue``) because
  it has no cross-process lock a killed worker could leave held; tiny messages are written
  atomically. On rebuild the slot gets a fresh pipe and thread.
* Every task is wrapped by :func:`mlsharp.worker.invoke`, which announces ``started`` before
  running it. When an executor breaks, the old pipe is drained completely before deciding: a task
  that never announced itself (its worker died while idle) is resubmitted once on the rebuilt
  executor; one that had started fails with :class:`WorkerCrashed`.
* Workers are bound to the server's life (:mod:`mlsharp.lifeline`): if the server dies without
  shutting the pool down (SIGKILL, OOM), they exit within a second instead of holding the model.
* Timeouts kill the slot's process (a running task cannot be cancelled otherwise) and rebuild it.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import asynccontextmanager
from typing import Any

from loguru import logger

from mlsharp.backends.base import BackendSpec
from mlsharp.worker import init_worker, invoke, ping

StageListener = Callable[[str], None]


class WorkerCrashed(RuntimeError):
    """The worker process died while running this task (killed, out of memory, segfault)."""


class TaskTimeout(TimeoutError):
    """The task ran longer than allowed; its worker was killed and replaced."""


class _ProgressChannel:
    """One pipe + reader thread; forwards ``(token, stage)`` to the pool's listeners."""

    def __init__(self, pool: "WorkerPool") -> None:
        self.receiver, self.sender = pool._ctx.Pipe(duplex=False)
        self._pool = pool
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drain, name="mlsharp-progress", daemon=True)
        self._thread.start()

    def _deliver(self) -> None:
        token, stage = self.receiver.recv()
        pool = self._pool
        with pool._lock:
            if stage == "started":
                if token in pool._pending:
                    pool._started.add(token)
                return
            listener = pool._listeners.get(token)
        if listener is not None:
            listener(stage)

    def _drain(self) -> None:
        try:
            while not self._stop.is_set():
                if self.receiver.poll(0.2):
                    self._deliver()
            while self.receiver.poll(0):  # what a dead worker sent before dying
                self._deliver()
        except (EOFError, OSError, ValueError, TypeError):
            pass  # the pipe was closed or a message was cut short by a dying worker
        finally:
            self.receiver.close()

    def close(self) -> None:
        """Stop after reading every message already sent; returns once that is done."""
        self._stop.set()
        self._thread.join(timeout=5.0)
        self.sender.close()


class _Slot:
    def __init__(self, pool: "WorkerPool", index: int) -> None:
        self.pool, self.index = pool, index
        self.executor: ProcessPoolExecutor | None = None
        self.channel: _ProgressChannel | None = None
        self.generation = 0
        self.build()

    def build(self) -> None:
        self.channel = _ProgressChannel(self.pool)
        self.executor = ProcessPoolExecutor(
            max_workers=1,
            mp_context=self.pool._ctx,
            initializer=init_worker,
            initargs=(self.pool.spec, self.channel.sender, os.getpid()),
            max_tasks_per_child=self.pool.max_tasks_per_child,
        )
        self.generation += 1

    def pids(self) -> list[int]:
        processes = getattr(self.executor, "_processes", None) or {}
        return [p.pid for p in list(processes.values()) if p is not None and p.pid is not None]

    def healthy(self) -> bool:
        """False once the executor is broken or its process has died (even while idle)."""
        if getattr(self.executor, "_broken", False):
            return False
        processes = getattr(self.executor, "_processes", None) or {}
        return all(p.is_alive() for p in list(processes.values()) if p is not None)

    def kill(self) -> None:
        processes = getattr(self.executor, "_processes", None) or {}
        for process in list(processes.values()):
            try:
                process.kill()
            except (OSError, AttributeError):
                pass

    def teardown(self, kill: bool) -> None:
        if kill:
            self.kill()
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)
        if self.channel is not None:
            self.channel.close()

    def rebuild(self, why: str) -> None:
        logger.warning("worker slot {} restarted: {}", self.index, why)
        self.teardown(kill=True)
        self.build()
        self.pool.restarts += 1


class WorkerPool:
    """Worker slots, each its own single-process executor, so a crash or a timeout costs one request
    and one rebuilt slot, never the pool."""

    def __init__(self, spec: BackendSpec, workers: int = 1, max_tasks_per_child: int | None = None) -> None:
        if workers < 1:
            raise ValueError("a worker pool needs at least one worker")
        self.spec = spec
        self.workers = workers
        self.max_tasks_per_child = max_tasks_per_child or None
        self.restarts = 0
        self._ctx = mp.get_context("spawn")
        self._listeners: dict[str, StageListener] = {}
        self._pending: set[str] = set()  # tokens submitted and not finished
        self._started: set[str] = set()  # ... of which the worker announced the start
        self._lock = threading.Lock()
        self._slots = [_Slot(self, i) for i in range(workers)]
        self._free: asyncio.Queue[_Slot] = asyncio.Queue()
        for slot in self._slots:
            self._free.put_nowait(slot)
        self._closed = False

    # ------------------------------------------------------------------ scheduling

    @property
    def idle_slots(self) -> int:
        return self._free.qsize()

    async def acquire(self) -> _Slot:
        """Wait for a free worker; it is exclusively the caller's until :meth:`release`.

        For holders whose use does not fit one ``async with`` block (a batch of jobs keeps its
        slot until its last job is done); everyone else uses :meth:`slot`."""
        if self._closed:
            raise RuntimeError("the worker pool is shut down")
        return await self._free.get()

    def release(self, slot: _Slot) -> None:
        self._free.put_nowait(slot)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[_Slot]:
        """Wait for a free worker; it is exclusively the caller's until the block exits."""
        slot = await self.acquire()
        try:
            yield slot
        finally:
            self.release(slot)

    async def run_on(
        self,
        slot: _Slot,
        fn: Callable[..., Any],
        *args: Any,
        on_stage: StageListener | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Run ``fn(*args)`` in ``slot``'s worker; ``on_stage`` hears the stages it reports."""
        token = uuid.uuid4().hex
        with self._lock:
            self._pending.add(token)
            if on_stage is not None:
                self._listeners[token] = on_stage
        try:
            if not slot.healthy():
                slot.rebuild("its idle worker process had died")
            for attempt in (1, 2):
                try:
                    future = slot.executor.submit(invoke, token, fn, args)
                except BrokenProcessPool:
                    future = None
                if future is not None:
                    try:
                        return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
                    except BrokenProcessPool:
                        pass
                    except asyncio.TimeoutError:
                        slot.rebuild(f"a task exceeded {timeout:g} s")
                        raise TaskTimeout(f"the prediction took longer than {timeout:g} s") from None
                slot.rebuild("its worker process died")  # drains the old pipe before returning
                with self._lock:
                    started = token in self._started
                if started:
                    raise WorkerCrashed("the worker process died while processing this request")
                if attempt == 2:
                    raise WorkerCrashed("the worker process could not be started")
        finally:
            with self._lock:
                self._pending.discard(token)
                self._started.discard(token)
                self._listeners.pop(token, None)
        raise AssertionError("unreachable")  # pragma: no cover

    async def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        async with self.slot() as slot:
            return await self.run_on(slot, fn, *args, **kwargs)

    async def broadcast(self, fn: Callable[..., Any], *args: Any, timeout: float | None = None) -> list[Any]:
        """Run ``fn(*args)`` once in every worker; one result each, in slot order."""

        async def one(slot: _Slot) -> Any:
            async with self._exclusive(slot):
                return await self.run_on(slot, fn, *args, timeout=timeout)

        return list(await asyncio.gather(*(one(s) for s in self._slots)))

    async def warm_up(self, timeout: float | None = None) -> list[dict]:
        """Start every worker and load its backend; one :func:`mlsharp.worker.ping` report each."""
        return await self.broadcast(ping, timeout=timeout)

    @asynccontextmanager
    async def _exclusive(self, wanted: _Slot) -> AsyncIterator[None]:
        """Take one particular slot out of the free queue (warm-up must reach every worker)."""
        passed_over: list[_Slot] = []
        acquired = False
        try:
            while not acquired:
                slot = await self._free.get()
                if slot is wanted:
                    acquired = True
                else:
                    passed_over.append(slot)
        finally:
            for other in passed_over:
                self._free.put_nowait(other)
        try:
            yield
        finally:
            self._free.put_nowait(wanted)

    # ------------------------------------------------------------------ introspection / shutdown

    def worker_pids(self) -> list[int]:
        return [pid for slot in self._slots for pid in slot.pids()]

    def shutdown(self, grace: float = 5.0) -> None:
        """Cancel what has not started, give running tasks ``grace`` seconds, then kill."""
        if self._closed:
            return
        self._closed = True
        processes = []
        for slot in self._slots:
            processes.extend(list((getattr(slot.executor, "_processes", None) or {}).values()))
            slot.executor.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.join(timeout=grace)
            if process.is_alive():
                process.kill()
                process.join(timeout=grace)
        for slot in self._slots:
            slot.channel.close()
