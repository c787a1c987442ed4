"""Run the service under uvicorn with start-up and shutdown in our hands, not in the ASGI lifespan.

Loading the model happens before the socket is bound (as with a lifespan) but here a start-up
failure -- a forced ``--mode`` whose device the workers cannot find, ``model.backend: sharp``
without a loadable checkpoint -- is one ``error:`` line and exit status 2 instead of uvicorn's
traceback and status 3. Shutdown (workers stopped, temporary files removed) runs after uvicorn
has stopped serving, also when Ctrl+C or SIGTERM ended it.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Any, Protocol

STARTUP_FAILED = 2


class Service(Protocol):
    """What :func:`serve` needs of an application: start-up before the socket is bound, shutdown after."""

    app: Any

    async def startup(self) -> None: ...

    async def shutdown(self) -> None: ...


def _one_line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return text or type(exc).__name__


async def _serve(service: Service, server: Any, fatal: tuple[type[BaseException], ...]) -> int:
    try:
        await service.startup()
    except fatal as exc:
        await service.shutdown()
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return STARTUP_FAILED
    except BaseException:
        await service.shutdown()
        raise
    try:
        await server.serve()
    finally:
        await service.shutdown()
    return 0 if server.started else 1


def _interrupted(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def serve(service: Service, fatal: tuple[type[BaseException], ...], **uvicorn_options: Any) -> int:
    """Start ``service``, serve its app until stopped, shut it down; returns the exit status.

    ``fatal`` are the start-up errors reported as one line (others propagate); Ctrl+C and
    SIGTERM are exit 0 after a clean shutdown.
    """
    import uvicorn

    # uvicorn stops serving on SIGINT/SIGTERM, then re-raises the signal. A plain KeyboardInterrupt
    # from our own handler lets the shutdown above finish; with the defaults asyncio.run would
    # cancel it half-way (SIGINT) or the process would end with -15 (SIGTERM).
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _interrupted)
    server = uvicorn.Server(uvicorn.Config(service.app, lifespan="off", **uvicorn_options))
    try:
        return asyncio.run(_serve(service, server, fatal))
    except KeyboardInterrupt:
        return 0
