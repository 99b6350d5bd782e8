"""Every error a client sees, in TAXII 2.1 error-message form, and never a stack trace."""

from __future__ import annotations

import logging

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from kizuna.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    KizunaError,
    NotFound,
    Unauthenticated,
)
from kizuna.taxii.media import TAXII_JSON

log = logging.getLogger("kizuna.api")

CHALLENGE = 'Bearer realm="kizuna", Basic realm="kizuna"'


class HttpProblem(KizunaError):
    """A protocol-level refusal that only the HTTP layer knows about (406, 413, 415)."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.title = title


def error_response(
    status: int, title: str, description: str, headers: dict[str, str] | None = None
) -> Response:
    body = {"title": title, "description": description, "http_status": str(status)}
    all_headers = dict(headers or {})
    if status == 401:
        all_headers["WWW-Authenticate"] = CHALLENGE
    return Response(
        orjson.dumps(body), status_code=status, media_type=TAXII_JSON, headers=all_headers
    )


_STATUS: list[tuple[type[KizunaError], int, str]] = [
    (Unauthenticated, 401, "Unauthorized"),
    (Forbidden, 403, "Forbidden"),
    (NotFound, 404, "Not Found"),
    (Conflict, 409, "Conflict"),
    (InvalidInput, 400, "Bad Request"),
]


def install(app: FastAPI) -> None:
    @app.exception_handler(KizunaError)
    async def _kizuna(_request: Request, exc: KizunaError) -> Response:
        if isinstance(exc, HttpProblem):
            return error_response(exc.status, exc.title, exc.message)
        for kind, status, title in _STATUS:
            if isinstance(exc, kind):
                return error_response(status, title, exc.message)
        log.error("unmapped kizuna error: %s", exc.message)
        return error_response(
            500, "Internal Server Error", "the server could not complete the request"
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> Response:
        description = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404:
            description = "no such resource on this server"
        return error_response(exc.status_code, _title(exc.status_code), description)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return error_response(400, "Bad Request", f"{where}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> Response:
        log.exception("unexpected error while serving a request", exc_info=exc)
        return error_response(
            500, "Internal Server Error", "the server could not complete the request"
        )


def _title(status: int) -> str:
    return {
        400: "Bad Request",
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not Found",
        405: "Method Not Allowed",
        406: "Not Acceptable",
        413: "Payload Too Large",
        415: "Unsupported Media Type",
    }.get(status, "Error")
