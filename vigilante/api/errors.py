"""Errors a client can cause, answered in its words: 4xx naming the field, never the raw input.

FastAPI's default 422 body echoes the offending input, which breaks JSON for NaN/Infinity and
can reflect megabytes back; here each error names the field, says why, and nothing more. An
unexpected exception becomes a bare ``{"detail": "internal error"}``: the traceback goes to the
log, never to the client.

:func:`document` makes ``/openapi.json`` tell the truth about these bodies: every 4xx an
operation can answer is declared with its real shape, so generated clients and schemathesis'
``response_schema_conformance`` agree with what the server sends.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from vigilante.api.deps import LANG_PATTERN
from vigilante.api.limits import SecurityHeaders
from vigilante.schemas import USERNAME_PATTERN
from vigilante.service import IdempotencyConflict, InvalidExpense

log = logging.getLogger(__name__)

# FastAPI's answer when the body cannot even be decoded (e.g. invalid UTF-8 in a JSON body).
_UNPARSEABLE_BODY = "There was an error parsing the body"
_NOT_JSON = "the body is not valid JSON (or not UTF-8)"
_PATTERN_MESSAGES = {
    LANG_PATTERN: "should be pt-BR, pt or en",
    USERNAME_PATTERN: "may hold only letters without accents, digits and . _ @ -",
}
_TOKEN_NEEDS_A_FORM = (
    "Field required: POST /token takes a form (content-type: application/x-www-form-urlencoded"
    ", as curl -d 'username=...&password=...' sends), not JSON"
)
_WHOLE_BODY_TYPES = {"dict_type", "model_attributes_type", "list_type", "model_type"}
_NOT_JSON_TYPE = "send the body as JSON with the header 'content-type: application/json' (got: {})"


class FieldError(BaseModel):
    """One problem with the request: which field, why, and a stable machine-readable type."""

    field: str
    message: str
    type: str


class ValidationFailed(BaseModel):
    """422: the request was understood but some fields are wrong; nothing was stored."""

    detail: list[FieldError]


class ErrorMessage(BaseModel):
    """Any other 4xx/5xx: one sentence saying what went wrong."""

    detail: str


def field_name(loc: tuple) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def field_errors(errors: list[dict]) -> list[dict]:
    out = []
    for e in errors[:50]:
        kind = e.get("type", "value_error")
        if kind == "json_invalid":
            out.append({"field": "body", "message": _NOT_JSON, "type": kind})
            continue
        message = str(e.get("msg", "invalid")).removeprefix("Value error, ")
        if kind == "string_pattern_mismatch":  # a regex means nothing to most people
            message = _PATTERN_MESSAGES.get((e.get("ctx") or {}).get("pattern"), message)
        elif kind == "decimal_type":  # pydantic names its Python types; null is "missing"
            if e.get("input", ...) is None:
                kind, message = "missing", "Field required"
            else:
                message = 'must be a number (as 42.5 or "42.50")'
        out.append({"field": field_name(tuple(e.get("loc", ()))), "message": message, "type": kind})
    return out


def allowed_methods(app: FastAPI, request: Request) -> list[str]:
    methods: set[str] = set()
    for route in app.router.routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        if match != Match.NONE and getattr(route, "methods", None):
            methods |= route.methods
    return sorted(methods)


def unprocessable(field: str, message: str, kind: str = "value_error") -> JSONResponse:
    return JSONResponse(
        status_code=422, content={"detail": [{"field": field, "message": message, "type": kind}]}
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        errors = field_errors(exc.errors())
        media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        if media != "application/json" and not media.endswith("+json"):
            # curl -d sends a form unless told otherwise; "should be a valid dictionary" would
            # send the user looking at their JSON, which is fine.
            for error in errors:
                if error["field"] == "body" and error["type"] in _WHOLE_BODY_TYPES:
                    error["message"] = _NOT_JSON_TYPE.format(media or "none")
        elif request.url.path == "/token":  # OAuth2's login is a form, not JSON
            for error in errors:
                if error["type"] == "missing":
                    error["message"] = _TOKEN_NEEDS_A_FORM
        return JSONResponse(status_code=422, content={"detail": errors})

    @app.exception_handler(InvalidExpense)
    async def invalid_expense(_request: Request, exc: InvalidExpense):
        return unprocessable(exc.field, exc.message)

    @app.exception_handler(IdempotencyConflict)
    async def idempotency_conflict(_request: Request, _exc: IdempotencyConflict):
        return JSONResponse(
            status_code=409,
            content={"detail": "Idempotency-Key was already used with a different request"},
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 400 and exc.detail == _UNPARSEABLE_BODY:
            return unprocessable("body", _NOT_JSON, "json_invalid")
        headers = exc.headers
        if exc.status_code == 405:
            # Starlette names only the first route on the path; RFC 9110 wants all of them.
            headers = dict(headers or {}, Allow=", ".join(allowed_methods(app, request)))
        return JSONResponse(
            status_code=exc.status_code, content={"detail": exc.detail}, headers=headers
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        # Runs outside the other middleware (Starlette's ServerErrorMiddleware), so it carries
        # the security headers itself.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        headers = {k.decode(): v.decode() for k, v in SecurityHeaders.API_HEADERS}
        return JSONResponse(status_code=500, content={"detail": "internal error"}, headers=headers)


# --- OpenAPI: declare every error body as it really is ----------------------------------------

_REF = "#/components/schemas/{model}"


def _content(model: type[BaseModel]) -> dict:
    return {"application/json": {"schema": {"$ref": _REF.format(model=model.__name__)}}}


def _error(description: str, model: type[BaseModel] = ErrorMessage, **headers: dict) -> dict:
    answer: dict[str, Any] = {"description": description, "content": _content(model)}
    if headers:
        answer["headers"] = headers
    return answer


_STRING = {"schema": {"type": "string"}}
_SECONDS = {"schema": {"type": "integer", "minimum": 1}, "required": True}


def _openapi_with_real_errors(app: FastAPI) -> dict:
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    batch = schema["paths"]["/events"]["post"]["requestBody"]["content"]["application/json"]
    batch["schema"] |= {"minItems": 1, "maxItems": app.state.ctx.settings.max_batch}
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    for model in (FieldError, ValidationFailed, ErrorMessage):
        components[model.__name__] = model.model_json_schema(ref_template=_REF)
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if "422" in responses or "requestBody" in operation or operation.get("parameters"):
                responses["422"] = _error(
                    "Invalid input: each field, why; nothing stored", ValidationFailed
                )
            if "requestBody" in operation:
                responses.setdefault("413", _error("Request body over the configured size"))
            if any(p.get("in") == "path" for p in operation.get("parameters", [])):
                responses.setdefault("404", _error("No such resource of yours"))
            if operation.get("security"):
                responses.setdefault(
                    "401",
                    _error("Missing, expired or invalid token", **{"WWW-Authenticate": _STRING}),
                )
            if "429" in responses:
                responses["429"] = _error(
                    "Too many attempts; retry after the given seconds", **{"Retry-After": _SECONDS}
                )
            for status, answer in responses.items():
                if status[0] in "45" and "content" not in answer:
                    answer["content"] = _content(ErrorMessage)
    return schema


def document(app: FastAPI) -> None:
    """Replace FastAPI's generated error responses with the bodies this API really sends."""

    def openapi() -> dict:
        if app.openapi_schema is None:
            app.openapi_schema = _openapi_with_real_errors(app)
        return app.openapi_schema

    app.openapi = openapi
