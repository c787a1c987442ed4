"""uvicorn's h11 protocol with the limits it lacks: request head size, request line, and time.

Why a protocol subclass: these must act before there is a request to hand to the app. Stock
uvicorn (httptools or h11) buffers request heads of any size (a 256 MB header was accepted) and
never times out a connection that has not finished sending its head (idle or half-sent
connections stayed open indefinitely). Here, per connection, while a request head is incomplete:

* more than ``max_line`` bytes without the end of the request line -> 414;
* more than ``max_head`` bytes without the end of the head -> 431;
* no complete head ``head_timeout`` seconds after the connection opened (or, on a kept-alive
  connection, after the next request's first byte) -> 408.

Each answer is a short JSON ``detail`` with ``Connection: close``, written straight to the socket
(h11 cannot send a response to a request it never parsed), and the connection is closed. The
count of header *lines* is checked later, by :class:`mlsharp.limits.HeaderCountMiddleware`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

REASONS = {408: "Request Timeout", 414: "URI Too Long", 431: "Request Header Fields Too Large"}


@dataclass(frozen=True)
class HeadLimits:
    max_line: int = 8 * 1024
    max_head: int = 32 * 1024
    head_timeout: float = 10.0


def head_limits(config: Any) -> HeadLimits:
    """From ``limits.max_header_kb`` and ``limits.header_timeout``; the request line may use at most
    8 KB of the head (as most servers allow)."""
    max_head = config.limits.max_header_kb * 1024
    return HeadLimits(max_line=min(8 * 1024, max_head), max_head=max_head,
                      head_timeout=config.limits.header_timeout)


def raw_reply(status: int, detail: str) -> bytes:
    body = json.dumps({"detail": detail}).encode()
    head = (f"HTTP/1.1 {status} {REASONS[status]}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n")
    return head.encode("ascii") + body


class BoundedH11Protocol(H11Protocol):
    limits = HeadLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head = bytearray()  # bytes of the request head received so far (while incomplete)
        self._head_timer: Any = None

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _waiting_for_head(self) -> bool:
        return self.conn.their_state is h11.IDLE

    def _arm(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.limits.head_timeout, self._head_timed_out)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _refuse(self, status: int, detail: str) -> None:
        self._disarm()
        if not self.transport.is_closing():
            self.transport.write(raw_reply(status, detail))
            self.transport.close()

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._waiting_for_head() and (self.cycle is None or self.cycle.response_complete):
            self._refuse(408, f"the request head did not arrive within {self.limits.head_timeout:g} s")

    def data_received(self, data: bytes) -> None:
        if self._waiting_for_head():
            self._head += data
            limits = self.limits
            end = self._head.find(b"\r\n\r\n")
            if b"\r\n" not in self._head[: limits.max_line + 2] and len(self._head) > limits.max_line:
                self._refuse(414, f"the request line is longer than {limits.max_line} bytes")
                return
            if (end < 0 and len(self._head) > limits.max_head) or end > limits.max_head:
                self._refuse(431, f"the request headers are larger than {limits.max_head // 1024} KB")
                return
            self._arm()
        super().data_received(data)
        if not self._waiting_for_head():
            self._head.clear()
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._waiting_for_head():  # kept alive: uvicorn's keep-alive timer covers the idle wait
            self._head.clear()


def bounded_protocol(limits: HeadLimits) -> type[BoundedH11Protocol]:
    """A protocol class with ``limits`` (uvicorn takes a class for ``http=``)."""
    return type("ConfiguredH11Protocol", (BoundedH11Protocol,), {"limits": limits})
