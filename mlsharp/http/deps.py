"""Typed dependencies shared by the route modules: the service object and the caller.

``OwnerDep`` is the one service instance (``app.MLSharpApp``, seen through the :class:`Owner`
protocol so this package never imports ``app``); ``ServiceDep`` its prediction service;
``CallerDep`` who is asking. Every ``/api/*`` router depends on :func:`get_caller`, so a route
cannot forget authentication.

Authentication hook: :data:`AUTHENTICATORS` is an ordered list of functions
``(request, owner) -> Caller | None``. Each either recognises the request's credentials and
returns the caller, returns ``None`` ("not mine, ask the next one") or raises
``HTTPException(401)`` for credentials it owns but rejects. The API-key check is the last entry;
another scheme (e.g. JWT bearer tokens) is one function inserted before it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

from fastapi import Depends, HTTPException, Request

from mlsharp.config import Config
from mlsharp.limits import RateLimiter
from mlsharp.security import ApiKeys, presented_key
from mlsharp.service import PredictionService


class Owner(Protocol):
    """What the routes may use of the service instance (``app.MLSharpApp`` implements it)."""

    config: Config
    service: PredictionService
    metrics: Any
    rate_limiter: RateLimiter
    api_keys: ApiKeys

    def health(self) -> dict[str, Any]: ...

    def stats(self) -> dict[str, Any]: ...

    def cache_stats(self) -> dict[str, Any]: ...

    def clear_cache(self) -> dict[str, Any]: ...


def get_owner(request: Request) -> Owner:
    return request.app.state.mlsharp


OwnerDep = Annotated[Owner, Depends(get_owner)]


def get_service(owner: OwnerDep) -> PredictionService:
    return owner.service


ServiceDep = Annotated[PredictionService, Depends(get_service)]


@dataclass(frozen=True)
class Caller:
    """Who made a request. ``id`` is stable per credential and safe to log or store (never the key)."""

    kind: str  # "anonymous" (no credentials configured), "api_key", or what another scheme names
    id: str


ANONYMOUS = Caller("anonymous", "anonymous")
Authenticator = Callable[[Request, Owner], "Caller | None"]


def _unauthorized() -> HTTPException:
    return HTTPException(
        401,
        "missing or invalid API key: send it in an X-API-Key header or as 'Authorization: Bearer <key>'",
        headers={"WWW-Authenticate": "Bearer"},
    )


def api_key_caller(request: Request, owner: Owner) -> Caller:
    """The last authenticator: anonymous when no key is configured, else the key must match."""
    keys = owner.api_keys
    if not keys.enabled:
        return ANONYMOUS
    presented = presented_key(request)
    if not keys.accepts(presented):
        raise _unauthorized()
    assert presented is not None
    return Caller("api_key", "key-" + hashlib.sha256(presented.encode()).hexdigest()[:12])


AUTHENTICATORS: list[Authenticator] = [api_key_caller]


def get_caller(request: Request, owner: OwnerDep) -> Caller:
    for authenticate in AUTHENTICATORS:
        caller = authenticate(request, owner)
        if caller is not None:
            return caller
    raise _unauthorized()


CallerDep = Annotated[Caller, Depends(get_caller)]


def metrics_caller(request: Request, owner: OwnerDep) -> Caller:
    """The metrics route asks for credentials only when ``security.protect_metrics``."""
    if owner.config.security.protect_metrics:
        return get_caller(request, owner)
    return ANONYMOUS


def rate_limited(request: Request, owner: OwnerDep) -> None:
    """Dependency of the routes that start predictions: per-client requests per minute."""
    if "rate_limited" in (getattr(request.state, "mlsharp_early", None) or {}):
        return  # already counted from the headers, before the body was read (mlsharp.early_gate)
    limiter = owner.rate_limiter
    client = request.client.host if request.client else "unknown"
    wait = limiter.check(client)
    if wait is not None:
        owner.metrics.observe_predict("rate_limited")
        raise HTTPException(
            429,
            f"rate limit of {limiter.per_minute} requests per minute exceeded; retry later",
            headers={"Retry-After": limiter.retry_after_header(wait)},
        )
