"""HTTP metrics of the read API in a registry of its own: requests by route template,
method and status class, and latency by route. No label carries a SKU or node id.

When `PROMETHEUS_MULTIPROC_DIR` is set (`stockline api` sets it for its worker processes,
see `adapters/http/server.py`), prometheus-client keeps the values in files there and
`render` sums every process's files, so whichever worker answers `/metrics` reports the
whole server."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"
"""The route label of requests no route matched (404s of arbitrary paths)."""


RESERVATION_OUTCOMES = (
    "held",
    "insufficient_stock",
    "unavailable",
    "conflict",
    "replayed",
    "in_progress",
    "released",
    "extended",
    "expired",
)


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
        self.reservations = Counter(
            "stockline_reservations",
            "Reservation API answers by outcome (held, insufficient_stock, conflict, replayed, "
            "in_progress, unavailable, released, extended) and holds released by the expiry "
            "sweep (expired)",
            ["outcome"],
            registry=self.registry,
        )
        for outcome in RESERVATION_OUTCOMES:  # at 0 from the start: a rate needs a series
            self.reservations.labels(outcome=outcome)
        self.holds_past_expiry = Gauge(
            "stockline_holds_past_expiry",
            "Open holds more than 2 s past their expires_at at the latest sweep or check "
            "(should be 0: stockline releases them within 2 s)",
            multiprocess_mode="livemostrecent",
            registry=self.registry,
        )
        self.exposed = self.registry
        if multiprocess_dir := os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            self.exposed = CollectorRegistry()
            MultiProcessCollector(self.exposed, path=multiprocess_dir)  # type: ignore[no-untyped-call]

        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status // 100)
        children = self._children.get(key)
        if children is None:  # label lookups take a lock and build a tuple: once per key
            count = self.requests.labels(route=route, method=method, status=f"{key[2]}xx")
            children = self._children[key] = (count, self.latency.labels(route=route))
        children[0].inc()
        children[1].observe(seconds)

    def reservation(self, outcome: str) -> None:
        self.reservations.labels(outcome=outcome).inc()

    def swept(self, late: int, released: int) -> None:
        """One expiry sweep (or check): holds found late, holds released."""
        self.holds_past_expiry.set(late)
        if released:
            self.reservations.labels(outcome="expired").inc(released)

    def render(self) -> bytes:
        """The text exposition format, for `/metrics`."""
        return generate_latest(self.exposed)


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
