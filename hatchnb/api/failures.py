"""Errors as JSON (``{"error": ..., "detail": ...}``) with the status that says whose fault
it is: a bad request is a 4xx naming what to fix, never a 500."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from hatchnb import errors
from hatchnb.api.models import ErrorBody
from hatchnb.features.tokens import InvalidToken, TokenNotFound, TriggerInProgress

log = logging.getLogger("hatchnb.api")

#: hatchnb's errors and the status each one is answered with (the first match wins)
STATUS_OF: tuple[tuple[type[BaseException], int], ...] = (
    (errors.DatabaseUnavailable, 503),
    (errors.NotFound, 404),
    (TokenNotFound, 404),
    (errors.IdempotencyCollisionError, 409),
    (TriggerInProgress, 409),
    (errors.NotSupported, 400),
    (errors.PayloadTooLarge, 413),
    (InvalidToken, 422),
    (errors.SerializationError, 422),
    (errors.InvalidArgument, 422),
    (errors.ValueRefused, 422),
    (errors.InvalidWorkflow, 422),
    (ValueError, 422),  # a hatchnb error that is also a ValueError: a value to change
    (errors.HatchnbError, 400),
)

#: the error responses every endpoint may give (in the OpenAPI document)
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in {
        400: "the request cannot be carried out as asked",
        401: "no token, or an unknown, revoked or expired one",
        403: "the token's scope does not allow this",
        404: "no such run, workflow, worker, cron or schedule",
        409: "an idempotency key is held by a run being started",
        413: "the input or payload is larger than HATCHNB_MAX_PAYLOAD_BYTES",
        422: "a field is missing or has a value that cannot be used",
        429: "too many failed authentications from this address",
        503: "the database cannot be reached",
    }.items()
}


def error_body(status: int, message: str, detail: Any = None) -> JSONResponse:
    body = ErrorBody(error=message, detail=detail).model_dump(exclude_none=True)
    return JSONResponse(body, status_code=status)


def install(app: FastAPI) -> None:
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(errors.HatchnbError, _hatchnb_error)
    app.add_exception_handler(ValueError, _value_error)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    response = error_body(exc.status_code, str(exc.detail))
    response.headers.update(exc.headers or {})
    if exc.status_code == 405:
        response.headers["Allow"] = ", ".join(_methods_of(request))
    return response


def _methods_of(request: Request) -> list[str]:
    """Every method of the path: each method is its own route, and the router's 405 names
    only the first route whose path matched."""
    methods: set[str] = set()
    for route in request.app.routes:
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(request.url.path):
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [_problem(e) for e in exc.errors()]
    detail = [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
        for e in exc.errors()
    ]
    return error_body(422, "; ".join(problems[:5]), detail)


def _problem(error: Any) -> str:
    where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "the request"
    return f"{where}: {error.get('msg', 'invalid')}"


async def _hatchnb_error(request: Request, exc: Exception) -> JSONResponse:
    status = next(code for kind, code in STATUS_OF if isinstance(exc, kind))
    if status == 503:
        log.warning("%s %s: %s", request.method, request.url.path, exc)
    return error_body(status, errors.message_of(exc))


async def _value_error(request: Request, exc: Exception) -> JSONResponse:
    """A value a feature client refused with a plain ValueError (pydantic's included)."""
    return error_body(422, str(exc) or type(exc).__name__)
