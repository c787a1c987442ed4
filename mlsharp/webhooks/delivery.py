"""Delivering one webhook: bounded attempts, exponential backoff, every attempt reported.

Each attempt re-checks the URL (:func:`.guard.check_webhook_url`) and connects to the checked
address itself, with the URL's host name kept for the ``Host`` header and TLS verification, so the
address that passed the SSRF check is the one that is reached. Redirects are not followed (a
redirect could point anywhere). Any non-2xx answer, timeout or connection error is retried until
``max_attempts``; a URL the guard refuses is not (it would be refused again). The body is the same
bytes on every attempt, with the same ``X-MLSharp-Delivery`` id so receivers can de-duplicate, but
each attempt is signed afresh with its own timestamp.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import socket
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mlsharp.webhooks.guard import Resolver, Target, UnsafeWebhook, check_webhook_url, system_resolver
from mlsharp.webhooks.signing import sign

USER_AGENT = "MLSharp-Webhook/1"
WEBHOOK_SECRET_ENV = "MLSHARP_WEBHOOK_SECRET"
MAX_RESPONSE_BYTES = 64 * 1024


@dataclass(frozen=True)
class WebhookSettings:
    secret: str
    allow_private: bool = False
    max_attempts: int = 5
    backoff_s: float = 2.0  # wait before attempt n+1: backoff_s * 2**(n-1), capped
    max_backoff_s: float = 300.0
    timeout_s: float = 10.0

    def delay(self, attempt: int) -> float:
        return min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1))

    @classmethod
    def from_config(cls, webhooks: Any, environ: Mapping[str, str] | None = None) -> "WebhookSettings | None":
        """``webhooks.*`` (the secret may come from ``MLSHARP_WEBHOOK_SECRET``); ``None`` without a secret."""
        environ = os.environ if environ is None else environ
        secret = environ.get(WEBHOOK_SECRET_ENV, "").strip() or webhooks.secret
        if not secret:
            return None
        return cls(secret, webhooks.allow_private, webhooks.max_attempts, webhooks.backoff_s,
                   timeout_s=webhooks.timeout_s)


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=ssl.create_default_context())
        self._address = target.address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post_once(target: Target, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """One POST to the pinned address; the status code (raises ``OSError`` on network failure)."""
    connection_type = _PinnedHTTPS if target.scheme == "https" else _PinnedHTTP
    connection = connection_type(target, timeout)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(MAX_RESPONSE_BYTES)
        return response.status
    finally:
        connection.close()


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


async def deliver(
    url: str,
    payload: dict[str, Any],
    settings: WebhookSettings,
    on_attempt: Callable[[dict[str, Any]], None],
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    resolver: Resolver = system_resolver,
) -> bool:
    """POST ``payload`` to ``url`` until a 2xx or ``max_attempts``; True when it was delivered.

    ``on_attempt`` receives one record per attempt (number, unix time, status code or error,
    duration) so the job can show its deliveries; it is called from the event loop.
    """
    body = encode(payload)
    delivery_id = uuid.uuid4().hex
    for attempt in range(1, settings.max_attempts + 1):
        started = time.time()
        record: dict[str, Any] = {"attempt": attempt, "at": round(started, 3), "status_code": None, "error": None}
        retry = True
        try:
            target = await asyncio.to_thread(check_webhook_url, url, settings.allow_private, resolver)
            headers = {
                "Content-Type": "application/json", "User-Agent": USER_AGENT,
                "X-MLSharp-Delivery": delivery_id, "X-MLSharp-Attempt": str(attempt),
                **sign(settings.secret, body),
            }
            status = await asyncio.to_thread(post_once, target, body, headers, settings.timeout_s)
            record["status_code"] = status
            if not 200 <= status < 300:
                record["error"] = f"the receiver answered HTTP {status}"
        except UnsafeWebhook as exc:
            record["error"], retry = str(exc), False
        except (OSError, http.client.HTTPException) as exc:
            record["error"] = f"{type(exc).__name__}: {exc}".rstrip(": ")
        record["duration_s"] = round(time.time() - started, 3)
        on_attempt(record)
        if record["error"] is None:
            return True
        if not retry or attempt == settings.max_attempts:
            return False
        await sleep(settings.delay(attempt))
    return False
