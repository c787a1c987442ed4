"""A worker process's tie to the server that started it: when the server dies, the worker dies too.

Why: a worker holds the model (gigabytes of RAM or GPU memory). If the server is SIGKILLed (or
crashes, or is OOM-killed) nothing runs its shutdown, and a worker blocked waiting for its next
task would wait forever. Two mechanisms, because neither covers every platform:

* Linux: ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` -- the kernel kills the worker the moment its parent
  goes. (Strictly it fires when the *thread* that spawned the worker exits; the pool spawns from
  the event-loop thread or the executor's manager thread, both of which outlive their workers.)
* Everywhere: a daemon watchdog thread. On POSIX it polls ``os.getppid()`` (an orphan is
  re-parented, so the value changes); on Windows it waits on a handle to the parent process, which
  is signalled when the parent exits (pid reuse cannot fool a handle).

The multiprocessing resource tracker needs nothing of its own: it exits when the last holder of
its pipe closes it, and the workers are those holders.

:func:`parent_alive` is also checked just before a worker publishes a result (renames its file
into the output folder, or uploads it to a remote store), so a worker that outlives its server by a
moment writes nothing there, and exits rather than report a result it did not store.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

POLL_S = 0.5
PR_SET_PDEATHSIG = 1
_parent_pid: int | None = None
_parent_handle: int | None = None  # Windows: a SYNCHRONIZE handle on the parent process


def _set_pdeathsig() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _die() -> None:
    # No cleanup on purpose: the server is gone, nobody will read anything we could still write.
    os._exit(1)


def _watch_posix(parent: int) -> None:
    stop = threading.Event()
    while not stop.wait(POLL_S):
        if os.getppid() != parent:
            _die()


def _watch_windows(parent: int) -> None:  # pragma: no cover - exercised on Windows only
    import ctypes

    ctypes.windll.kernel32.WaitForSingleObject(_parent_handle, 0xFFFFFFFF)  # type: ignore[attr-defined]
    _die()


def _open_parent_windows(parent: int) -> int:  # pragma: no cover - Windows only
    import ctypes

    handle = ctypes.windll.kernel32.OpenProcess(0x00100000, False, parent)  # type: ignore[attr-defined]
    if not handle:
        _die()  # the parent is already gone
    return handle


def bind_to_parent(parent: int | None = None) -> None:
    """Make this process exit within about :data:`POLL_S` seconds of its parent's death."""
    global _parent_pid, _parent_handle
    parent = os.getppid() if parent is None else parent
    _parent_pid = parent
    if os.name == "nt":  # pragma: no cover - Windows only
        _parent_handle = _open_parent_windows(parent)
    _set_pdeathsig()
    if os.name != "nt" and os.getppid() != parent:
        _die()  # the parent died before the signal was armed
    watcher = _watch_windows if os.name == "nt" else _watch_posix
    threading.Thread(target=watcher, args=(parent,), name="mlsharp-parent-watch", daemon=True).start()


def parent_alive() -> bool:
    """False once the server that started this worker has died (True when not bound)."""
    if _parent_pid is None:
        return True
    if os.name != "nt":
        return os.getppid() == _parent_pid
    import ctypes  # pragma: no cover - Windows only

    return ctypes.windll.kernel32.WaitForSingleObject(_parent_handle, 0) != 0  # type: ignore[attr-defined]


def publish(staged: Path, final: Path) -> None:
    """Move a finished output into place, unless the server is gone (then drop it and exit)."""
    publish_with(staged, lambda path: os.replace(path, final))


def publish_with(staged: Path, put: Callable[[Path], None]) -> None:
    """Hand a finished output to ``put`` (an upload to a remote store), under the same rule as
    :func:`publish`: an orphaned worker exits instead, so it never reports a result it did not store."""
    if not parent_alive():
        staged.unlink(missing_ok=True)
        _die()
    put(staged)
