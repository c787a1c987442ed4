"""Logging setup: console + dated file sink with rotation/retention/compression, level, stdlib capture."""

from __future__ import annotations

import io
import logging
import time

import pytest
from loguru import logger

import logger as logger_module
from logger import setup_logging, shutdown_logging


@pytest.fixture(autouse=True)
def restore_logging():
    yield
    shutdown_logging()


def read_log(directory) -> str:
    files = list(directory.glob("mlsharp_*.log"))
    assert len(files) == 1, files
    return files[0].read_text(encoding="utf-8")


def test_file_sink_is_dated_and_respects_the_level(tmp_path):
    console = io.StringIO()
    setup_logging("INFO", file=True, directory=tmp_path / "logs", console=console)
    logger.debug("hidden detail")
    logger.info("service started")
    logger.complete()
    text = read_log(tmp_path / "logs")
    assert (tmp_path / "logs" / f"mlsharp_{time.strftime('%Y%m%d')}.log").is_file()
    assert "service started" in text and "hidden detail" not in text
    assert "service started" in console.getvalue() and "hidden detail" not in console.getvalue()


def test_debug_level_lets_debug_through(tmp_path):
    console = io.StringIO()
    setup_logging("debug", file=False, console=console)
    logger.debug("now visible")
    assert "now visible" in console.getvalue()
    assert not (tmp_path / "logs").exists()


def test_stdlib_loggers_are_routed_into_the_sinks(tmp_path):
    setup_logging("INFO", file=True, directory=tmp_path, console=io.StringIO())
    logging.getLogger("uvicorn.error").warning("from uvicorn")
    logging.getLogger("sharpnet.config").warning("input size adjusted")
    text = read_log(tmp_path)
    assert "from uvicorn" in text and "input size adjusted" in text


def test_file_sink_rotates_at_10_mb_keeps_7_days_and_zips(tmp_path, monkeypatch):
    calls = []
    real_add = logger.add

    def spy(sink, **kwargs):
        calls.append((sink, kwargs))
        return real_add(sink, **kwargs)

    monkeypatch.setattr(logger_module.logger, "add", spy)
    setup_logging("WARNING", file=True, directory=tmp_path, console=io.StringIO())
    file_calls = [kw for sink, kw in calls if not hasattr(sink, "write")]
    assert len(file_calls) == 1
    assert file_calls[0]["rotation"] == "10 MB"
    assert file_calls[0]["retention"] == "7 days"
    assert file_calls[0]["compression"] == "zip"
    assert file_calls[0]["level"] == "WARNING"


def test_calling_setup_twice_does_not_duplicate_lines(tmp_path):
    console = io.StringIO()
    setup_logging("INFO", file=True, directory=tmp_path, console=console)
    setup_logging("INFO", file=True, directory=tmp_path, console=console)
    logger.info("once")
    assert console.getvalue().count("once") == 1
    assert read_log(tmp_path).count("once") == 1


def test_the_access_log_never_shows_a_secret_or_an_unbounded_path(tmp_path):
    console = io.StringIO()
    setup_logging("DEBUG", file=False, console=console)
    access = logging.getLogger("uvicorn.access")
    target = "/api/jobs/" + "a" * 60_000 + "?token=s3cr3t-value&api_key=k3y&view=full"
    access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", target, "1.1", 404)
    access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/x?token=s3cr3t-value&view=full", "1.1", 200)
    text = console.getvalue()
    assert "s3cr3t" not in text and "k3y" not in text
    assert "token=REDACTED" in text and "view=full" in text
    assert max(len(line) for line in text.splitlines()) < 1000


def test_no_log_line_is_unbounded(tmp_path):
    console = io.StringIO()
    setup_logging("INFO", file=False, console=console)
    logger.info("header value: {}", "x" * 100_000)
    assert len(console.getvalue()) < logger_module.MAX_MESSAGE + 500
    assert "more characters" in console.getvalue()
