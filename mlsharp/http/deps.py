"""Typed dependencies shared by the route modules: the service object and the caller.

``OwnerDep`` is the one service instance (``app.MLSharpApp``, seen through the :class:`Owner`
protocol so this package never imports ``app``); ``ServiceDep`` its prediction service;
``TrackingDep`` the same jobs seen per caller (ownership, cancel, webhooks);
``CallerDep`` who is asking. Every ``/api/*`` router depends on :func:`get_caller`, so a route
cannot forget authentication.

Authentication hook: :data:`AUTHENTICATORS` is an ordered list of functions
``(request, owner) -> Caller | None``. Each either recognises the request's credentials and
returns the caller, returns ``None`` ("not mine, ask the next one") or raises
``HTTPException(401)`` for credentials it owns but rejects. JWT bearer tokens
(:func:`jwt_caller`, when ``security.jwt_*`` configure them) come first, API keys last. The
caller is anonymous only while *no* scheme is configured; with any, a request must satisfy one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

from fastapi import Depends, HTTPException, Request

from mlsharp.batch.service import BatchService
from mlsharp.config import Config
from mlsharp.limits import RateLimiter
from mlsharp.security import ApiKeys, presented_key
from mlsharp.service import PredictionService
from mlsharp.tokens import TokenRejected, TokenVerifier, looks_like_jwt
from mlsharp.tracking import Tracking


class Owner(Protocol):
    """What the routes may use of the service instance (``app.MLSharpApp`` implements it)."""

    config: Config
    service: PredictionService
    metrics: Any
    rate_limiter: RateLimiter
    api_keys: ApiKeys
    tokens: TokenVerifier | None
    tracking: Tracking
    batches: BatchService

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


def get_tracking(owner: OwnerDep) -> Tracking:
    return owner.tracking


TrackingDep = Annotated[Tracking, Depends(get_tracking)]


@dataclass(frozen=True)
class Caller:
    """Who made a request. ``id`` is stable per credential and safe to log or store (never the key)."""

    kind: str  # "anonymous" (no credentials configured), "api_key", or what another scheme names
    id: str


ANONYMOUS = Caller("anonymous", "anonymous")
Authenticator = Callable[[Request, Owner], "Caller | None"]


def _unauthorized(detail: str | None = None) -> HTTPException:
    return HTTPException(
        401,
        detail or "missing or invalid credentials: send an API key in an X-API-Key header, or a key "
        "or token as 'Authorization: Bearer <...>'",
        headers={"WWW-Authenticate": "Bearer"},
    )


def jwt_caller(request: Request, owner: Owner) -> Caller | None:
    """A JWT bearer token identifies its ``sub``; anything else is left to the API-key check."""
    verifier = owner.tokens
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if verifier is None or scheme.lower() != "bearer" or not looks_like_jwt(token):
        return None
    try:
        claims = verifier.verify(token)
    except TokenRejected as exc:
        raise _unauthorized(f"invalid bearer token: {exc}") from None
    return Caller("jwt", "sub:" + claims["sub"])


def api_key_caller(request: Request, owner: Owner) -> Caller | None:
    """Anonymous when no credentials of any kind are configured, else the key must match."""
    keys = owner.api_keys
    if not keys.enabled:
        return ANONYMOUS if owner.tokens is None else None
    presented = presented_key(request)
    if not keys.accepts(presented):
        raise _unauthorized()
    assert presented is not None
    return Caller("api_key", "key-" + hashlib.sha256(presented.encode()).hexdigest()[:12])


AUTHENTICATORS: list[Authenticator] = [jwt_caller, api_key_caller]


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
    """Dependency of the routes that start predictions: per-caller requests per minute.

    A caller with credentials is counted by its identity (a key shared by many machines is one
    caller; one machine using two keys is two); an anonymous one by its client address. The
    caller is recognised again here (a cheap check) because the early gate calls this with the
    request and the service only.
    """
    if "rate_limited" in (getattr(request.state, "mlsharp_early", None) or {}):
        return  # already counted from the headers, before the body was read (mlsharp.early_gate)
    caller = get_caller(request, owner)
    limiter = owner.rate_limiter
    client = request.client.host if request.client else "unknown"
    wait = limiter.check(client if caller is ANONYMOUS else caller.id)
    if wait is not None:
        owner.metrics.observe_predict("rate_limited")
        raise HTTPException(
            429,
            f"rate limit of {limiter.per_minute} requests per minute exceeded; retry later",
            headers={"Retry-After": limiter.retry_after_header(wait)},
        )
