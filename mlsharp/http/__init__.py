"""The HTTP layer: one module per resource, each an ``APIRouter``; :func:`build_router` joins them.

Handlers translate between HTTP and the service object (``app.state.mlsharp``, typed as
:class:`mlsharp.http.deps.Owner`); they never reach into the worker pool, the job store or the
cache. Adding a resource = a new module with a ``router`` and one line in :func:`build_router`.
"""

from __future__ import annotations

from fastapi import APIRouter

from mlsharp.http import batch, cache, docs, outputs, predict, service
from mlsharp.http import metrics as metrics_routes
from mlsharp.http.errors import install_error_handlers
from mlsharp.http.static import StaticAssets


def build_router(metrics_path: str | None, assets: StaticAssets) -> APIRouter:
    """Every route: the page, ``/api/*`` (API key checked per router) and, if enabled, metrics."""
    combined = APIRouter()
    combined.include_router(service.page_router(assets))
    for module in (docs, predict, batch, outputs, service, cache):
        combined.include_router(module.router)
    if metrics_path:
        combined.include_router(metrics_routes.build(metrics_path))
    return combined


__all__ = ["build_router", "install_error_handlers"]
