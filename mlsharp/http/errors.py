"""Every error is JSON ``{"detail": "..."}`` with a one-line string, validation errors included.

So curl users and the page can show it as is; validation errors are worded for people
(:mod:`mlsharp.http.field_errors`). :data:`ERRORS` documents the shared codes in
``/docs``; handlers simply let :class:`mlsharp.service.ServiceError` propagate.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from loguru import logger

from mlsharp.diskerrors import DiskTrouble, describe, kind_of
from mlsharp.http.field_errors import one_line
from mlsharp.schemas import ErrorResponse
from mlsharp.service import ServiceError


def described(*pairs: tuple[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries with the error model, e.g. ``described((404, "Unknown job"))``."""
    return {code: {"model": ErrorResponse, "description": text} for code, text in pairs}


ERRORS = described(
    (400, "The upload is not a usable photo"),
    (401, "An API key is configured and the request did not present it"),
    (413, "The upload or the image is larger than allowed"),
    (422, "A form field is missing or out of range"),
    (429, "Too many requests from this client (see Retry-After)"),
    (500, "The prediction failed (e.g. the worker process crashed)"),
    (503, "Server busy or model not loaded (see Retry-After)"),
    (504, "The prediction took longer than performance.predict_timeout"),
    (507, "The output folder's disk is full or read-only"),
)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": one_line(list(exc.errors()))}, status_code=422)

    @app.exception_handler(ServiceError)
    async def service_error(_: Request, exc: ServiceError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(DiskTrouble)
    async def disk_trouble(_: Request, exc: DiskTrouble) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=507)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        kind = kind_of(exc)
        if kind:  # e.g. an upload that could not be spooled to the temporary folder
            return JSONResponse({"detail": describe(kind, "temporary folder")}, status_code=507)
        logger.opt(exception=exc).error("unhandled error")
        return JSONResponse({"detail": f"internal server error ({type(exc).__name__})"}, status_code=500)
