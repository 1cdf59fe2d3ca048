"""The read API's app factory: routes, error handlers and middleware, wired over an
`Availability` service. Building the app does no I/O."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any, Final

from fastapi import FastAPI
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from stockline.adapters.http.auth import BearerAuth
from stockline.adapters.http.errors import install_error_handlers
from stockline.adapters.http.limits import BodyLimit
from stockline.adapters.http.metrics import HttpMetrics, MetricsMiddleware
from stockline.adapters.http.reads import DEFAULT_CACHE_SKUS, SkuReads
from stockline.adapters.http.routes import availability_router, operations_router
from stockline.adapters.http.sku_route import PREFIX, SkuAnswers, SkuFront
from stockline.contracts.api import BATCH_LIMIT
from stockline.service_layer.availability import Availability

API_VERSION: Final = "1.0.0"
DEFAULT_MAX_BODY_BYTES: Final = 131_072


class ReadApi:
    """The ASGI app: metrics, then auth, then the body limit (pure ASGI layers, in that
    order), then `SkuFront` for single-SKU reads and the FastAPI app for the rest.
    `fastapi` holds the routes and the OpenAPI document."""

    def __init__(self, stack: ASGIApp, fastapi: FastAPI) -> None:
        self.stack = stack
        self.fastapi = fastapi

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.stack(scope, receive, send)

    def openapi(self) -> dict[str, Any]:
        return self.fastapi.openapi()


def create_app(
    availability: Availability,
    *,
    tokens: Iterable[str] = (),
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    batch_max: int = BATCH_LIMIT,
    metrics: HttpMetrics | None = None,
    cache_max_age_s: int | None = None,
    read_cache_s: float = 0.0,
    read_cache_skus: int = DEFAULT_CACHE_SKUS,
    on_shutdown: Callable[[], Awaitable[None]] | None = None,
) -> ReadApi:
    """The ASGI app. With `tokens`, `/v1/*` needs one of them as a bearer token;
    `cache_max_age_s` adds `Cache-Control: max-age` to single-SKU reads; `read_cache_s`
    keeps each SKU's read that long in this process (`adapters/http/reads.py`)."""
    metrics = metrics or HttpMetrics()
    reads = SkuReads(availability, ttl_s=read_cache_s, max_skus=read_cache_skus)
    control = None if cache_max_age_s is None else b"max-age=%d" % cache_max_age_s
    answers = SkuAnswers(reads, cache_control=control)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if on_shutdown is not None:
            await on_shutdown()

    app = FastAPI(
        title="stockline read API",
        version=API_VERSION,
        summary="Available-to-promise from the stockline ledger (DESIGN.md section 6)",
        lifespan=lifespan,
    )
    routers = [availability_router(answers, batch_max), operations_router(availability, metrics)]
    for router in routers:
        app.include_router(router)
    install_error_handlers(app)
    routes = [route for router in routers for route in router.routes]
    stack: ASGIApp = SkuFront(app, answers, _single_sku_route(routes))
    stack = BodyLimit(stack, max_bytes=max_body_bytes)
    stack = BearerAuth(stack, tokens=tuple(tokens))
    stack = MetricsMiddleware(stack, metrics=metrics, routes=routes)
    return ReadApi(stack, app)


def _single_sku_route(routes: list[BaseRoute]) -> BaseRoute:
    return next(r for r in routes if getattr(r, "path_format", "") == PREFIX + "{sku}")
