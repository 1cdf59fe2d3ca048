"""The read API's app factory: routes, error handlers and middleware, wired over an
`Availability` service. Building the app does no I/O."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Final

from fastapi import FastAPI

from stockline.adapters.http.auth import BearerAuth
from stockline.adapters.http.errors import install_error_handlers
from stockline.adapters.http.limits import BodyLimit
from stockline.adapters.http.metrics import HttpMetrics, MetricsMiddleware
from stockline.adapters.http.routes import availability_router, operations_router
from stockline.contracts.api import BATCH_LIMIT
from stockline.service_layer.availability import Availability

API_VERSION: Final = "1.0.0"
DEFAULT_MAX_BODY_BYTES: Final = 131_072


def create_app(
    availability: Availability,
    *,
    tokens: Iterable[str] = (),
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    batch_max: int = BATCH_LIMIT,
    metrics: HttpMetrics | None = None,
    on_shutdown: Callable[[], Awaitable[None]] | None = None,
) -> FastAPI:
    """The ASGI app. With `tokens`, `/v1/*` needs one of them as a bearer token; every
    request passes the metrics, then auth, then the body limit, then routing."""
    metrics = metrics or HttpMetrics()

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
    routers = [
        availability_router(availability, batch_max),
        operations_router(availability, metrics),
    ]
    for router in routers:
        app.include_router(router)
    install_error_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.add_middleware(BearerAuth, tokens=tuple(tokens))
    routes = [route for router in routers for route in router.routes]
    app.add_middleware(MetricsMiddleware, metrics=metrics, routes=routes)
    return app
