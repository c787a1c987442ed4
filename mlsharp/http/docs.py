"""API documentation that works offline: Swagger UI at ``/docs`` and ReDoc at ``/redoc`` from the
vendored copies in ``static/vendor/`` (tools/vendor_viewer.sh), and an OpenAPI document that
declares how ``/api/*`` is authenticated, so "Try it out" can send a key.

Why not FastAPI's own pages: they load both UIs from a CDN (unpinned, blank without internet)
and start them with an inline script, which the page's Content-Security-Policy forbids. These
pages start them from ``static/js/api-docs.js`` instead. Every URL is relative, so the pages also
work when the service is served under a sub-path.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)

SECURITY_SCHEMES = {
    "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key",
               "description": "A key from security.api_keys or MLSHARP_API_KEYS (when keys are configured)"},
    "Bearer": {"type": "http", "scheme": "bearer",
               "description": "The same key (or a token) as 'Authorization: Bearer ...'"},
}
_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>MLSharp 3D Maker - {title}</title>
  {head}
</head>
<body>
  <div id="{element}" data-openapi="openapi.json"></div>
  <script src="{bundle}"></script>
  <script src="static/js/api-docs.js"></script>
</body>
</html>
"""


@router.get("/docs", response_class=HTMLResponse)
async def swagger_ui() -> HTMLResponse:
    return HTMLResponse(_PAGE.format(
        title="API (Swagger UI)", element="swagger-ui", bundle="static/vendor/swagger-ui/swagger-ui-bundle.js",
        head='<link rel="stylesheet" href="static/vendor/swagger-ui/swagger-ui.css">'))


@router.get("/redoc", response_class=HTMLResponse)
async def redoc() -> HTMLResponse:
    return HTMLResponse(_PAGE.format(
        title="API (ReDoc)", element="redoc", bundle="static/vendor/redoc/bundles/redoc.standalone.js", head=""))


def install_openapi_security(app: FastAPI) -> None:
    """Declare both credential forms and require one of them on every ``/api/*`` operation (the
    routes themselves decide whether a key is configured at all)."""

    def schema() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, description=app.description,
                                   routes=app.routes)
            document.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
            for path, operations in document.get("paths", {}).items():
                if path.startswith("/api/"):
                    for operation in operations.values():
                        operation["security"] = [{"ApiKey": []}, {"Bearer": []}]
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = schema  # type: ignore[method-assign]
