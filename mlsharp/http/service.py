"""The service itself: the page at ``/``, ``/api/health`` and ``/api/stats``."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from mlsharp.http.deps import OwnerDep, get_caller
from mlsharp.http.static import StaticAssets, page_response
from mlsharp.schemas import HealthResponse, StatsResponse

router = APIRouter(prefix="/api", tags=["service"], dependencies=[Depends(get_caller)])

FALLBACK_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>MLSharp 3D Maker</title></head>
<body><h1>MLSharp 3D Maker</h1><p>The web page (static/index.html) is not installed.
The API works: see <a href="docs">docs</a>, or
<code>curl -F file=@photo.jpg http://HOST:PORT/api/predict</code>.</p></body></html>"""


def page_router(assets: StaticAssets) -> APIRouter:
    """``/``: the page (public; its API calls carry the key), compressed and revalidated like its files."""
    pages = APIRouter()

    @pages.get("/", include_in_schema=False)
    async def index(request: Request) -> Response:
        page = await asyncio.to_thread(assets.page)
        if page is not None:
            return page_response(page, request)
        return HTMLResponse(FALLBACK_PAGE)

    return pages


@router.get("/health", response_model=HealthResponse)
async def health(owner: OwnerDep) -> Any:
    """Liveness plus which backend answers (sharp or preview), on which device."""
    return owner.health()


@router.get("/stats", response_model=StatsResponse)
async def stats(owner: OwnerDep) -> Any:
    """Uptime, request and prediction counts, mean prediction time, GPU memory."""
    return owner.stats()
