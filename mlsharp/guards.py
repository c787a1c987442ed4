"""The request guards that act on headers before any handler (or body read) runs, in one place.

Order matters (the last added runs first): security headers wrap everything, so even a refusal
carries them; then the Host/Origin check (:mod:`mlsharp.site_guard`); then the caller's own limits.
:func:`install_guards` is called after the body-size limit is added, so all of these run before it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlsharp.page_headers import SecurityHeadersMiddleware
from mlsharp.site_guard import SiteGuardMiddleware


def install_guards(app: Any, config: Any, static_dir: Path) -> None:
    security = config.security
    app.add_middleware(SiteGuardMiddleware, bound_host=config.server.host,
                       allowed_hosts=tuple(getattr(security, "allowed_hosts", ())),
                       allowed_origins=tuple(security.cors_origins))
    app.add_middleware(SecurityHeadersMiddleware, static_dir=static_dir)
