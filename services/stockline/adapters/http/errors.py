"""Every error the API returns is an `ErrorBody`: `{"error": code, "detail": sentence}`,
plus `problems` naming each bad field of a 422."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Match

from stockline.contracts.api import ErrorBody, Problem

log = logging.getLogger(__name__)

_CODES = {
    400: "malformed_body",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
}


class ApiError(Exception):
    """An answer other than success, raised by a route and rendered as an `ErrorBody`."""

    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail = status, error, detail


def error_response(
    status: int,
    error: str,
    detail: str,
    problems: Sequence[Problem] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = ErrorBody(error=error, detail=detail, problems=list(problems))
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def problems_of(errors: Sequence[Any]) -> list[Problem]:
    """Pydantic's validation errors as `field` (dotted location) and `problem` pairs."""
    return [
        Problem(field=".".join(str(p) for p in e.get("loc", ())), problem=str(e.get("msg", "")))
        for e in errors
    ]


async def _api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.error, exc.detail)


async def _invalid(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = problems_of(exc.errors())
    detail = "; ".join(f"{p.field}: {p.problem}" for p in problems) or "invalid request"
    if any(e.get("type") == "json_invalid" for e in exc.errors()):
        return error_response(400, "malformed_body", f"the body is not JSON: {detail}", problems)
    return error_response(422, "invalid_request", detail, problems)


def _http_handler(routes: Sequence[BaseRoute]) -> Callable[[Request, Exception], Any]:
    async def _http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        code = _CODES.get(exc.status_code, f"http_{exc.status_code}")
        headers = exc.headers
        if exc.status_code == 405 and routes:
            headers = {**(headers or {}), "Allow": _allowed(routes, request)}
        return error_response(exc.status_code, code, str(exc.detail), headers=headers)

    return _http


def _allowed(routes: Sequence[BaseRoute], request: Request) -> str:
    """Every method some route of the path takes (Starlette names only the first route's,
    and a path like `/v1/reservations/{id}` has one route per method)."""
    methods: set[str] = set()
    for route in routes:
        if route.matches(request.scope)[0] is not Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return ", ".join(sorted(methods))


def failure_response(exc: Exception) -> JSONResponse:
    """The answer to an error nothing else handled: 503 `ledger_unavailable` when Redis did
    not answer, else 500 `internal_error`; either is logged. The front layers that answer
    without the framework use it too."""
    if isinstance(exc, RedisError):
        log.warning("ledger step failed: %s", exc)
        return error_response(503, "ledger_unavailable", "the stock ledger (Redis) did not answer")
    log.error("unhandled error", exc_info=exc)
    return error_response(500, "internal_error", "the server failed; the error is logged")


async def _failure(_: Request, exc: Exception) -> JSONResponse:
    return failure_response(exc)


def install_error_handlers(app: FastAPI, routes: Sequence[BaseRoute] = ()) -> None:
    """`routes` (the app's) name the methods of a 405's `Allow` header."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(HTTPException, _http_handler(routes))
    app.add_exception_handler(RedisError, _failure)
    app.add_exception_handler(Exception, _failure)
