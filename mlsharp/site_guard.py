"""A local tool that web sites cannot drive: ``Host`` allow-list and cross-site ``Origin`` refusal.

Why: with no API key on loopback (the default), any page the user visits could otherwise
``fetch("http://127.0.0.1:8000/api/cache/clear", {method: "POST"})`` -- a "simple" cross-site
request needs no CORS pre-flight -- or rebind its own DNS name to 127.0.0.1 and read our answers.

* ``Host`` must name this service: the bound name, ``localhost``, ``127.0.0.1``, ``::1``, the
  configured ``security.allowed_hosts``; when bound to every interface (``0.0.0.0``/``::``) also
  any IP literal and this machine's own names (DNS rebinding needs a DNS name). Otherwise 400.
* A state-changing request (anything but GET/HEAD/OPTIONS) that carries an ``Origin`` (browsers
  always send one cross-site) must come from this same host:port or from an origin in the CORS
  allow-list; otherwise 403. Requests without ``Origin`` (curl, scripts) are not affected.

Both checks read headers only, so they run before any body is read.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from mlsharp.asgi_reply import refuse

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARDS = ("0.0.0.0", "::", "")


def split_host(value: str) -> tuple[str, str]:
    """``("example.org", "8000")`` from a Host header value (IPv6 in brackets), lower-cased."""
    value = value.strip().lower()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        return host, rest.removeprefix(":")
    host, _, port = value.rpartition(":") if value.count(":") == 1 else (value, "", "")
    return host, port


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def allowed_host_names(bound: str, extra: Iterable[str] = ()) -> tuple[frozenset[str], bool]:
    """(names allowed, whether any IP literal is allowed) for a server bound to ``bound``."""
    names = {bound.lower().strip("[]"), *LOOPBACK_NAMES, *(h.lower() for h in extra)}
    any_ip = bound in WILDCARDS
    if any_ip:
        for name in (socket.gethostname(), socket.getfqdn()):
            if name:
                names.add(name.lower())
    return frozenset(n for n in names if n), any_ip


class SiteGuardMiddleware:
    def __init__(self, app: Any, bound_host: str, allowed_hosts: Iterable[str] = (),
                 allowed_origins: Iterable[str] = ()) -> None:
        self.app = app
        self.names, self.any_ip = allowed_host_names(bound_host, allowed_hosts)
        self.allow_every_host = "*" in self.names
        self.origins = frozenset(o.rstrip("/").lower() for o in allowed_origins)

    def host_allowed(self, host: str) -> bool:
        if self.allow_every_host:
            return True
        return host in self.names or (self.any_ip and _is_ip(host))

    def origin_allowed(self, origin: str, host_header: str) -> bool:
        origin = origin.strip().lower().rstrip("/")
        if "*" in self.origins or origin in self.origins:
            return True
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return False  # "null" (sandboxed frames, file: pages) and anything odd
        return parts.netloc == host_header.strip().lower()  # same origin as the page we served

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {name: value.decode("latin-1") for name, value in scope.get("headers", [])
                   if name in (b"host", b"origin", b"sec-fetch-site")}
        host_header = headers.get(b"host", "")
        if host_header and not self.host_allowed(split_host(host_header)[0]):
            await refuse(send, 400, "this server does not answer to that Host name "
                                    "(add it to security.allowed_hosts if it is yours)")
        elif scope.get("method", "GET") not in SAFE_METHODS and self._cross_site(headers, host_header):
            await refuse(send, 403, "cross-site request refused: this origin is not in security.cors_origins")
        else:
            await self.app(scope, receive, send)

    def _cross_site(self, headers: dict, host_header: str) -> bool:
        origin = headers.get(b"origin")
        if origin is not None:
            return not self.origin_allowed(origin, host_header)
        return headers.get(b"sec-fetch-site") == "cross-site" and "*" not in self.origins
