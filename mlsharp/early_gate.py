"""Authentication and rate limits decided from the headers, before a request body is read.

Why: FastAPI reads and parses a form body *before* it runs a route's dependencies, so a caller
without a key (or over its rate) could make the server receive and parse a 45 MB upload only to be
told 401/429 afterwards. This middleware finds the route a request with a body is for, and if that
route depends on one of the header-only checks (:data:`HEADER_CHECKS`: the caller, the metrics
caller, the rate limit) runs them first, with the same functions, so the answer is identical. A
refusal closes the connection without reading the body. What the gate decided is left in the
request state, so the route's own dependencies do not count the rate twice.
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException
from starlette.requests import Request
from starlette.routing import Match

try:  # FastAPI >= 0.16x includes routers lazily; this yields the routes as they are matched
    from fastapi.routing import iter_route_contexts
except ImportError:  # pragma: no cover - older FastAPI: the router's list is already flat
    def iter_route_contexts(routes: Any) -> Any:
        return iter(routes)

from mlsharp.asgi_reply import refuse
from mlsharp.http.deps import get_caller, metrics_caller, rate_limited

HEADER_CHECKS = (get_caller, metrics_caller, rate_limited)
STATE_KEY = "mlsharp_early"  # read by mlsharp.http.deps.rate_limited


def _has_body(scope: dict) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() not in (b"", b"0")):
            return True
    return False


def _checks_of(dependant: Any) -> list[Any]:
    found, todo = [], [dependant]
    while todo:
        current = todo.pop()
        if current.call in HEADER_CHECKS and current.call not in found:
            found.append(current.call)
        todo.extend(current.dependencies)
    return sorted(found, key=HEADER_CHECKS.index)  # who is asking before how often


class EarlyGateMiddleware:
    def __init__(self, app: Any, router_owner: Any) -> None:
        self.app = app
        self.router_owner = router_owner
        self._routes: list[tuple[Any, list[Any]]] | None = None

    def _checks_for(self, scope: dict) -> list[Any]:
        if self._routes is None:  # the routes are complete once the first request arrives
            self._routes = []
            for route in iter_route_contexts(self.router_owner.router.routes):
                dependant = getattr(route, "dependant", None)
                self._routes.append((route, _checks_of(dependant) if dependant is not None else []))
        for route, checks in self._routes:
            if route.matches(scope)[0] is Match.FULL:
                return checks
        return []

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not _has_body(scope):
            await self.app(scope, receive, send)
            return
        checks = self._checks_for(scope)
        if checks:
            request = Request(scope)
            owner = self.router_owner.state.mlsharp
            decided: dict[str, Any] = {}
            try:
                for check in checks:
                    decided[check.__name__] = check(request, owner)
            except HTTPException as exc:
                extra = [(k.lower().encode(), v.encode()) for k, v in (exc.headers or {}).items()]
                await refuse(send, exc.status_code, exc.detail, extra)
                return
            scope.setdefault("state", {})[STATE_KEY] = decided
        await self.app(scope, receive, send)
