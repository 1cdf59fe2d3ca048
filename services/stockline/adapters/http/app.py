"""The read API's app factory: routes, error handlers and middleware, wired over an
`Availability` service. Building the app does no I/O."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final, Protocol

from fastapi import FastAPI
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from stockline.adapters.http.auth import BearerAuth
from stockline.adapters.http.errors import install_error_handlers
from stockline.adapters.http.limits import BodyLimit
from stockline.adapters.http.metrics import HttpMetrics, MetricsMiddleware
from stockline.adapters.http.reads import DEFAULT_CACHE_SKUS, SkuReads
from stockline.adapters.http.reservations import (
    ReservationFront,
    install_reservation_errors,
    post_route,
    reservations_router,
)
from stockline.adapters.http.routes import availability_router, operations_router
from stockline.adapters.http.sku_route import PREFIX, SkuAnswers, SkuFront
from stockline.contracts.api import BATCH_LIMIT
from stockline.service_layer.availability import Availability
from stockline.service_layer.reservations import Reservations

log = logging.getLogger(__name__)

API_VERSION: Final = "1.0.0"
DEFAULT_MAX_BODY_BYTES: Final = 131_072
BACKGROUND_STOP_S: Final = 10
"""How long the app waits for each background task to stop at shutdown."""


class Background(Protocol):
    """Something the app runs while it serves (the hold log's producer, the expiry sweep)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class TaskRunner:
    """A `Background` that runs `work()` as a task until the app stops."""

    def __init__(self, work: Callable[[], Awaitable[None]], name: str) -> None:
        self._work, self._name = work, name
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._work(), name=self._name)  # type: ignore[arg-type]

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class ReadApi:
    """The ASGI app: metrics, then auth, then the body limit (pure ASGI layers, in that
    order), then `ReservationFront` for well-formed holds, `SkuFront` for single-SKU
    reads, and the FastAPI app for the rest.
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
    reservations: Reservations | None = None,
    allow_anonymous_writes: bool = False,
    background: Sequence[Background] = (),
) -> ReadApi:
    """The ASGI app. With `tokens`, `/v1/*` needs one of them as a bearer token (without,
    reservation writes are refused unless `allow_anonymous_writes`); `cache_max_age_s`
    adds `Cache-Control: max-age` to single-SKU reads; `read_cache_s` keeps each SKU's
    read that long in this process (`adapters/http/reads.py`). `background` is started
    in order before the first request and stopped in reverse after the last."""
    metrics = metrics or HttpMetrics()
    reads = SkuReads(availability, ttl_s=read_cache_s, max_skus=read_cache_skus)
    control = None if cache_max_age_s is None else b"max-age=%d" % cache_max_age_s
    answers = SkuAnswers(reads, cache_control=control)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        for task in background:
            await task.start()
        yield
        for task in reversed(background):
            try:  # a stop that hangs (a producer flushing to a broker gone) must not hang exit
                async with asyncio.timeout(BACKGROUND_STOP_S):
                    await task.stop()
            except TimeoutError:
                log.warning("%r did not stop within %d s; leaving it", task, BACKGROUND_STOP_S)
        if on_shutdown is not None:
            await on_shutdown()

    app = FastAPI(
        title="stockline read API",
        version=API_VERSION,
        summary="Available-to-promise from the stockline ledger (DESIGN.md section 6)",
        lifespan=lifespan,
    )
    routers = [
        availability_router(answers, batch_max),
        reservations_router(reservations),
        operations_router(availability, metrics),
    ]
    for router in routers:
        app.include_router(router)
    routes = [route for router in routers for route in router.routes]
    install_error_handlers(app, routes)
    install_reservation_errors(app)
    stack: ASGIApp = SkuFront(app, answers, _single_sku_route(routes))
    stack = ReservationFront(stack, reservations, post_route(routes))
    stack = BodyLimit(stack, max_bytes=max_body_bytes)
    stack = BearerAuth(stack, tokens=tuple(tokens), allow_anonymous_writes=allow_anonymous_writes)
    stack = MetricsMiddleware(stack, metrics=metrics, routes=routes)
    return ReadApi(stack, app)


def _single_sku_route(routes: list[BaseRoute]) -> BaseRoute:
    return next(r for r in routes if getattr(r, "path_format", "") == PREFIX + "{sku}")
