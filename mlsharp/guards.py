"""The request guards that act on headers before any handler (or body read) runs, in one place.

Order matters (the last added runs first): security headers wrap everything, so even a refusal
carries them; then the Host/Origin check (:mod:`mlsharp.site_guard`); then the pace of the body and
the header count (:mod:`mlsharp.slow_clients`); then authentication and rate limit from the headers
(:mod:`mlsharp.early_gate`); last, HEAD is answered as GET (:mod:`mlsharp.head_requests`).
:func:`install_guards` is called after the body-size limit is added, so all of these run before it.
"""

from __future__ import annotations

from typing import Any

from mlsharp.early_gate import EarlyGateMiddleware
from mlsharp.head_requests import HeadAsGetMiddleware
from mlsharp.page_headers import SecurityHeadersMiddleware
from mlsharp.site_guard import SiteGuardMiddleware
from mlsharp.slow_clients import BodyPace, SlowClientMiddleware


def body_pace(config: Any) -> BodyPace:
    limits = config.limits
    return BodyPace(gap_timeout=limits.body_timeout, min_rate=limits.min_upload_kbps * 1024.0,
                    grace=limits.body_timeout, max_headers=limits.max_header_lines)


def install_guards(app: Any, config: Any, page: bytes) -> None:
    """``page``: index.html as served, whose inline scripts the Content-Security-Policy allows."""
    security = config.security
    app.add_middleware(HeadAsGetMiddleware)
    app.add_middleware(EarlyGateMiddleware, router_owner=app)
    app.add_middleware(SlowClientMiddleware, pace=body_pace(config))
    app.add_middleware(SiteGuardMiddleware, bound_host=config.server.host,
                       allowed_hosts=tuple(security.allowed_hosts), allowed_origins=tuple(security.cors_origins))
    app.add_middleware(SecurityHeadersMiddleware, page=page)
