"""The read API in-process (the app `stockline api` serves) polled while the cluster fails
over or reshards: every answer's status and time, to bound and place the errors."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field

import httpx

from stockline.bootstrap import build_api
from stockline.settings import Settings


@dataclass
class ApiWatch:
    answers: list[tuple[float, int]] = field(default_factory=list)

    def count(self, low: int, high: int = 600) -> int:
        return sum(1 for _, status in self.answers if low <= status < high)

    def outside(self, start: float, end: float) -> int:
        """5xx answers outside [start, end] (monotonic seconds)."""
        return sum(1 for t, s in self.answers if s >= 500 and not start <= t <= end)

    def figure(self) -> str:
        return f"{len(self.answers)} reads, {self.count(500)} 5xx, {self.count(400, 500)} 4xx"


async def watch_api(
    settings: Settings, skus: list[str], stop: asyncio.Event, every_s: float = 0.01
) -> ApiWatch:
    """GET /v1/availability/<sku> for random SKUs until `stop` is set; a SKU not stocked
    yet answers 404, which is fine."""
    app = build_api(settings)
    out = ApiWatch()
    rng = random.Random(5)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.fastapi.router.lifespan_context(app.fastapi),
        httpx.AsyncClient(transport=transport, base_url="http://api") as client,
    ):
        while not stop.is_set():
            started = time.monotonic()
            try:
                response = await client.get(f"/v1/availability/{rng.choice(skus)}")
                status = response.status_code
            except httpx.HTTPError:
                status = 599
            out.answers.append((started, 404 if status == 404 else status))
            await asyncio.sleep(every_s)
    return out
