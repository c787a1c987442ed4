"""Fetch the SHARP checkpoint: streamed to a temporary file beside the target, renamed when complete.

A short connect timeout makes an offline machine fail within seconds with a message that says
what to do; a partial download never sits under the real name (``.part-*`` files are removed on
failure and ignored by git).
"""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import TextIO

CONNECT_TIMEOUT = 10.0  # seconds to reach the server; each read may then take as long
CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """The download failed; the message is one line and says why."""


class _Progress:
    """A one-line text progress bar (no extra dependency); quiet when not on a terminal."""

    def __init__(self, total: int | None, stream: TextIO) -> None:
        self.total, self.stream = total, stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.start = time.monotonic()
        self.last = 0.0
        self.last_percent = -10

    def update(self, done: int, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self.last < 0.2:
            return
        self.last = now
        speed = done / max(now - self.start, 1e-6) / 1e6
        if self.total:
            fraction = min(done / self.total, 1.0)
            if not self.tty:  # a log file gets a line every 10 %
                percent = int(fraction * 100)
                if percent - self.last_percent < 10 and not final:
                    return
                self.last_percent = percent
            bar = "#" * int(fraction * 30)
            text = (f"[{bar:<30}] {fraction * 100:5.1f}%  {done / 1e6:,.0f}/{self.total / 1e6:,.0f} MB"
                    f"  {speed:.1f} MB/s")
        else:
            text = f"{done / 1e6:,.0f} MB  {speed:.1f} MB/s"
        end = "\n" if final or not self.tty else ""
        self.stream.write(("\r" if self.tty else "") + text + end)
        self.stream.flush()


def download(
    url: str,
    target: str | Path,
    connect_timeout: float = CONNECT_TIMEOUT,
    stream: TextIO | None = None,
) -> Path:
    """Download ``url`` to ``target`` atomically; raises :class:`DownloadError` on any failure."""
    target = Path(target)
    out = stream if stream is not None else sys.stderr
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.part-{uuid.uuid4().hex[:8]}")
    request = urllib.request.Request(url, headers={"User-Agent": "mlsharp-3d-maker"})
    try:
        try:
            response = urllib.request.urlopen(request, timeout=connect_timeout)  # noqa: S310 - URL from config
        except urllib.error.HTTPError as exc:
            raise DownloadError(f"the server answered {exc.code} {exc.reason} for {url}") from None
        except (urllib.error.URLError, socket.timeout, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DownloadError(
                f"cannot reach {url} ({reason}); check the internet connection, or download the file "
                f"by hand and save it as {target}"
            ) from None
        with response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            if total:
                free = shutil.disk_usage(target.parent).free
                if free < total:
                    raise DownloadError(
                        f"not enough disk space in {target.parent}: need {total / 1e9:.1f} GB, "
                        f"{free / 1e9:.1f} GB free"
                    )
            progress = _Progress(total, out)
            done = 0
            with open(tmp, "wb") as fh:
                while True:
                    try:
                        chunk = response.read(CHUNK)
                    except (OSError, socket.timeout, http.client.HTTPException) as exc:
                        raise DownloadError(f"download interrupted after {done / 1e6:.0f} MB ({exc})") from None
                    if not chunk:
                        break
                    fh.write(chunk)
                    done += len(chunk)
                    progress.update(done)
                fh.flush()
                os.fsync(fh.fileno())
            progress.update(done, final=True)
        if total is not None and done != total:
            raise DownloadError(f"download incomplete: got {done} of {total} bytes")
        if done == 0:
            raise DownloadError(f"the server sent an empty file for {url}")
        os.replace(tmp, target)
        return target
    finally:
        if tmp.exists():
            tmp.unlink()
