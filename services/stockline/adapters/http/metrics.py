"""HTTP metrics of the read API in a registry of its own: requests by route template,
method and status class, and latency by route. No label carries a SKU or node id."""

from __future__ import annotations

import time
from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"
"""The route label of requests no route matched (404s of arbitrary paths)."""


class HttpMetrics:
    """The API's metrics; `observe` records one finished request."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.requests = Counter(
            "stockline_http_requests",
            "HTTP requests, by route template, method and status class (2xx, 4xx, ...)",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "stockline_http_request_seconds",
            "Time from a request's arrival to its response's last byte, by route template",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route=route, method=method, status=f"{status // 100}xx").inc()
        self.latency.labels(route=route).observe(seconds)

    def render(self) -> bytes:
        """The text exposition format, for `/metrics`."""
        return generate_latest(self.registry)


class MetricsMiddleware:
    """ASGI middleware, outermost, so 401s and 413s are counted too, under the route
    template they were aimed at."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = self._template(scope)
            method = scope["method"] if scope["method"] in _METHODS else "other"
            self.metrics.observe(route, method, status, time.perf_counter() - started)

    def _template(self, scope: Scope) -> str:
        """The matched route's template; requests refused before routing are matched here."""
        route = scope.get("route")
        if route is None:
            route = next((r for r in self.routes if r.matches(scope)[0] is not Match.NONE), None)
        return str(getattr(route, "path_format", UNMATCHED))
