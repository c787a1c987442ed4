"""Prometheus metrics at ``monitoring.metrics_path`` (key-protected when ``security.protect_metrics``)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from mlsharp.http.deps import OwnerDep, metrics_caller


def build(path: str) -> APIRouter:
    router = APIRouter(tags=["service"])

    @router.get(path, response_class=Response, dependencies=[Depends(metrics_caller)],
                responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}})
    async def metrics(owner: OwnerDep) -> Response:
        """Prometheus metrics (text exposition format)."""
        return Response(owner.metrics.generate(), media_type=owner.metrics.content_type)

    return router
