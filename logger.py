"""Logging for the service: loguru everywhere, stdlib loggers (uvicorn, sharpnet) routed into it.

One console sink (coloured when attached to a terminal) and, when enabled, one file sink
``<dir>/mlsharp_YYYYMMDD.log`` that rotates at 10 MB, keeps 7 days and zips old files. Calling
:func:`setup_logging` again replaces both sinks, so tests and reloads never duplicate output.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TextIO

from loguru import logger

from mlsharp.redact import clip, redact_target

ROTATION = "10 MB"
RETENTION = "7 days"
COMPRESSION = "zip"
FILE_PATTERN = "mlsharp_{time:YYYYMMDD}.log"
CONSOLE_FORMAT = (
    "<green>{time:HH:mm:ss}</green> | <level>{level: <8}</level> | "
    "<cyan>{name}</cyan> - <level>{message}</level>"
)
FILE_FORMAT = "{time:YYYY-MM-DD HH:mm:ss.SSS} | {level: <8} | {process} | {name}:{line} - {message}"
_STDLIB_LEVELS = {"TRACE": 5, "DEBUG": 10, "INFO": 20, "SUCCESS": 20, "WARNING": 30, "ERROR": 40,
                  "CRITICAL": 50}
_STDLIB_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "fastapi", "sharpnet", "mlsharp")


class InterceptHandler(logging.Handler):
    """Forwards stdlib log records to loguru, keeping the caller's level and location."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        # Walk out of the logging package so the record names the code that logged, not logging.
        frame, depth = sys._getframe(0), 0
        while frame is not None and (depth == 0 or frame.f_code.co_filename == logging.__file__):
            frame = frame.f_back
            depth += 1
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) >= 3:
            # (client, method, target, ...): the target may carry a ?token= and be any length
            record.args = (*record.args[:2], redact_target(str(record.args[2])), *record.args[3:])
        logger.opt(depth=depth, exception=record.exc_info).log(level, record.getMessage())


MAX_MESSAGE = 4000


def _bounded(record: dict) -> None:
    """No log line is unbounded, whoever wrote it (a path or header a client chose, say)."""
    record["message"] = clip(record["message"], MAX_MESSAGE)


def setup_logging(
    level: str = "INFO",
    file: bool = True,
    directory: str | Path = "logs",
    console: TextIO | None = None,
) -> Path | None:
    """(Re)configure every sink; returns the log directory when a file sink was added."""
    level = level.upper()
    logger.remove()
    logger.configure(patcher=_bounded)
    stream = console if console is not None else sys.stderr
    colorize = bool(getattr(stream, "isatty", lambda: False)())
    logger.add(stream, level=level, format=CONSOLE_FORMAT, colorize=colorize, backtrace=False,
               diagnose=False)
    log_dir = None
    if file:
        log_dir = Path(directory)
        log_dir.mkdir(parents=True, exist_ok=True)
        logger.add(
            log_dir / FILE_PATTERN,
            level=level,
            format=FILE_FORMAT,
            rotation=ROTATION,
            retention=RETENTION,
            compression=COMPRESSION,
            encoding="utf-8",
            enqueue=False,
            backtrace=False,
            diagnose=False,
        )
    handler = InterceptHandler()
    logging.basicConfig(handlers=[handler], level=_STDLIB_LEVELS.get(level, logging.INFO), force=True)
    for name in _STDLIB_LOGGERS:
        std = logging.getLogger(name)
        std.handlers = []
        std.propagate = True
    return log_dir


def shutdown_logging() -> None:
    """Flush and close the file sink (loguru closes files on ``remove``)."""
    logger.remove()
    logger.add(sys.stderr, level="INFO", format=CONSOLE_FORMAT, colorize=False)
