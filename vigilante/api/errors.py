"""Errors a client can cause, answered in its words: 4xx naming the field, never the raw input.

FastAPI's default 422 body echoes the offending input, which breaks JSON for NaN/Infinity and
can reflect megabytes back; here each error names the field, says why, and nothing more.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from vigilante.service import IdempotencyConflict, InvalidExpense

log = logging.getLogger(__name__)


def field_name(loc: tuple) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def _message(error: dict) -> str:
    msg = error.get("msg", "invalid")
    if error.get("type") == "json_invalid":
        return "the body is not valid JSON (or not UTF-8)"
    return msg.removeprefix("Value error, ")


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError):
        errors = [
            {
                "field": field_name(tuple(e.get("loc", ()))),
                "message": _message(e),
                "type": e.get("type", "value_error"),
            }
            for e in exc.errors()[:50]
        ]
        return JSONResponse(status_code=422, content={"detail": errors})

    @app.exception_handler(InvalidExpense)
    async def invalid_expense(_request: Request, exc: InvalidExpense):
        return JSONResponse(
            status_code=422,
            content={
                "detail": [{"field": exc.field, "message": exc.message, "type": "value_error"}]
            },
        )

    @app.exception_handler(IdempotencyConflict)
    async def idempotency_conflict(_request: Request, _exc: IdempotencyConflict):
        return JSONResponse(
            status_code=409,
            content={"detail": "Idempotency-Key was already used with a different body"},
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException):
        return JSONResponse(
            status_code=exc.status_code, content={"detail": exc.detail}, headers=exc.headers
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(status_code=500, content={"detail": "internal error"})
