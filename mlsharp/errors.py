"""The one HTTP-shaped failure every layer below the routes raises (service, engines)."""

from __future__ import annotations


class ServiceError(Exception):
    """An HTTP-shaped failure: status code, one-line detail, optional headers, metric label."""

    def __init__(self, status_code: int, detail: str, headers: dict[str, str] | None = None,
                 outcome: str | None = None) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.headers = headers or {}
        self.outcome = outcome or ("bad_request" if status_code < 500 else "error")
