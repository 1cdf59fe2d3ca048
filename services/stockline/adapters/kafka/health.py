"""The worker's readiness: not ready while its latest batch is failing on Redis.

The ledger consumer wraps its batch step with `Readiness.watch`; the host app serves the
state on `/readyz` and as the `stockline_ready` gauge. A worker that is not ready keeps
retrying the same batch (nothing is skipped); it becomes ready again with the first batch
Redis accepts.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from prometheus_client import CollectorRegistry, Gauge
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

P = ParamSpec("P")
R = TypeVar("R")


class Readiness:
    """Whether the last batch reached Redis, and since when it has not."""

    def __init__(self) -> None:
        self.failing_since: float | None = None
        self.reason = ""

    @property
    def ready(self) -> bool:
        return self.failing_since is None

    def watch(self, step: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        """`step`, recording whether it reached Redis (its errors still propagate)."""

        async def watched(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                result = await step(*args, **kwargs)
            except (RedisConnectionError, RedisTimeoutError) as exc:
                if self.failing_since is None:
                    self.failing_since = time.monotonic()
                self.reason = f"redis unavailable: {exc!r}"[:300]
                raise
            self.failing_since, self.reason = None, ""
            return result

        return watched

    def export(self, registry: CollectorRegistry) -> None:
        """Register the `stockline_ready` gauge (1 ready, 0 not) in `registry`."""
        gauge = Gauge(
            "stockline_ready",
            "1 while the worker's batches reach Redis, 0 while the latest one is failing",
            registry=registry,
        )
        gauge.set_function(lambda: 1.0 if self.ready else 0.0)

    def status(self) -> tuple[int, dict[str, object]]:
        """The `/readyz` answer: HTTP status and body."""
        if self.failing_since is None:
            return 200, {"ready": True}
        failing_for = round(time.monotonic() - self.failing_since, 1)
        return 503, {"ready": False, "reason": self.reason, "failing_for_s": failing_for}
