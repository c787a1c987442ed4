"""SSRF guard: a webhook may only reach a public http(s) address unless ``allow_private`` is set.

The host is resolved *here* and the connection goes to the address that was checked (see
:mod:`.delivery`), so a name that resolves to a public address at check time and to 127.0.0.1 a
moment later (DNS rebinding) cannot redirect a delivery. Every address a name resolves to must
pass: one private answer among public ones refuses the URL. "Public" is
:attr:`ipaddress.IPv4Address.is_global`: loopback, private, link-local, carrier-grade NAT,
multicast, reserved and unspecified ranges all fail it, and an IPv4-mapped IPv6 address is judged
by its IPv4 part.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_URL_CHARS = 2048
Resolver = Callable[[str, int], list[str]]


class UnsafeWebhook(ValueError):
    """The URL is malformed, not http(s), or reaches an address it may not; ``str()`` says which."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as written in the URL: Host header and TLS server name
    port: int
    path: str  # path + query, at least "/"
    address: str  # the checked IP the connection is pinned to


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UnsafeWebhook(f"webhook host {host!r} does not resolve ({exc.strerror})") from None
    return [info[4][0] for info in infos]


def _split(url: str) -> tuple[str, str, int, str]:
    if len(url) > MAX_URL_CHARS:
        raise UnsafeWebhook(f"webhook_url is longer than {MAX_URL_CHARS} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeWebhook(f"webhook_url is not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeWebhook("webhook_url must be an http:// or https:// URL")
    if not parts.hostname:
        raise UnsafeWebhook("webhook_url has no host")
    if parts.username or parts.password:
        raise UnsafeWebhook("webhook_url must not carry a user name or password")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return scheme, parts.hostname, port or (443 if scheme == "https" else 80), path


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global


def check_webhook_url(url: str, allow_private: bool, resolver: Resolver = system_resolver) -> Target:
    """The pinned :class:`Target` for ``url``, or :class:`UnsafeWebhook`."""
    scheme, host, port, path = _split(url)
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        addresses = resolver(host, port)
    if not addresses:
        raise UnsafeWebhook(f"webhook host {host!r} does not resolve")
    if not allow_private:
        for address in addresses:
            if not _is_public(address):
                raise UnsafeWebhook(
                    f"webhook_url resolves to {address}, a loopback/private/link-local address "
                    "(set webhooks.allow_private to allow it)"
                )
    return Target(scheme, host, port, path, addresses[0])
