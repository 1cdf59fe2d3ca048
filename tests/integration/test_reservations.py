"""The reservation API on the real Redis and Kafka: holds decided on the ledger, durable on
`inventory.reservations` before the answer, replayed by id, released, extended, expired
within 2 s, and 503 with nothing held when Kafka does not answer."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest

from stockline.adapters.redis.store import RedisLedgerStore
from stockline.bootstrap import build_api
from stockline.domain.events import Receipt
from stockline.service_layer.ports import Delivery
from tests.integration.harness import World, eventually, free_port, read_to_end
from tests.integration.live_api import serve

pytestmark = [pytest.mark.kafka, pytest.mark.redis]

TOKEN = "resv-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TOPIC = "inventory.reservations"
Api = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
async def world_topics(world: World, ledger: RedisLedgerStore) -> World:
    """The world's topics exist, its ledger stocked: SKU-A 10 at DC-1 and 4 at STORE-1."""
    await world.create_topics()
    now = time.time_ns() // 1000
    stock = [("SKU-A", "DC-1", 10), ("SKU-A", "STORE-1", 4), ("SKU-B", "DC-1", 2)]
    events = [Receipt(f"r-{s}-{n}", now, "t", n, s, qty=q) for s, n, q in stock]
    await ledger.apply([Delivery(e, "seed", 0, i) for i, e in enumerate(events)], now)
    return world


@pytest.fixture
def api(world_topics: World) -> Api:
    """Serves `build_api` for the world (with overrides) in this process; a client of it
    that sends the token."""

    @asynccontextmanager
    async def run(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        fields = world_topics.settings.model_dump() | {
            "api_tokens": [TOKEN],
            "api_port": free_port(),
            "api_read_cache_ms": 0,
            "api_expiry_interval_s": 0.2,
            **overrides,
        }
        headers = AUTH if fields["api_tokens"] else {}
        with serve(build_api(type(world_topics.settings)(**fields))) as url:
            async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
                yield client

    return run


async def reserve(
    client: httpx.AsyncClient, rid: str, *lines: dict[str, Any], **extra: Any
) -> httpx.Response:
    body = {"reservation_id": rid, "lines": list(lines), **extra}
    return await client.post("/v1/reservations", json=body)


def line(qty: int, *nodes: str, sku: str = "SKU-A") -> dict[str, Any]:
    return {"sku": sku, "qty": qty, "nodes": list(nodes)}


async def hold_events(world: World) -> list[dict[str, Any]]:
    return [json.loads(r.value) for r in await read_to_end(world, TOPIC)]


async def test_a_hold_is_logged_once_and_replayed_by_id(api: Api, world_topics: World) -> None:
    async with api() as client:
        first = await reserve(client, "R-1", line(6, "STORE-1", "DC-1"))
        assert first.status_code == 201, first.text
        assert [(x["node_id"], x["qty"]) for x in first.json()["lines"]] == [("DC-1", 6)]
        again = await reserve(client, "R-1", line(6, "STORE-1", "DC-1"))
        assert (again.status_code, again.content) == (201, first.content)
        other = await reserve(client, "R-1", line(5, "STORE-1", "DC-1"))
        assert (other.status_code, other.json()["error"]) == (409, "reservation_conflict")
        short = await reserve(client, "R-2", line(5, "DC-1"))  # 10 - 6 left at DC-1
        assert short.status_code == 409
    events = await hold_events(world_topics)
    assert [(e["event_type"], e["event_id"]) for e in events] == [("hold_placed", "R-1#1.0")]


async def test_refusals_name_each_candidates_atp(api: Api) -> None:
    async with api() as client:
        short = await reserve(client, "R-1", line(11, "DC-1", "STORE-1"))
        unknown = await reserve(client, "R-2", line(1, "DC-1", sku="SKU-NEVER"))
    assert short.status_code == unknown.status_code == 409
    assert short.json()["error"] == "insufficient_stock"
    assert short.json()["lines"][0]["atp"] == {"DC-1": 10, "STORE-1": 4}
    assert unknown.json()["lines"][0]["atp"] == {"DC-1": 0}


async def test_all_or_nothing_gives_back_what_it_held(api: Api, world_topics: World) -> None:
    async with api() as client:
        refused = await reserve(client, "R-1", line(10, "DC-1"), line(3, "DC-1", sku="SKU-B"))
        assert refused.status_code == 409
        assert [x["line"] for x in refused.json()["lines"]] == [1]
        assert (await reserve(client, "R-2", line(10, "DC-1"))).status_code == 201  # ATP came back
    events = {e["event_id"]: e["event_type"] for e in await hold_events(world_topics)}
    assert events == {
        "R-1#1.0": "hold_placed",
        "R-1#1.0|released": "hold_released",
        "R-2#1.0": "hold_placed",
    }


async def test_delete_releases_and_patch_extends(api: Api) -> None:
    async with api() as client:
        placed = await reserve(client, "R-1", line(10, "DC-1"), ttl_seconds=60)
        assert placed.status_code == 201
        extended = await client.patch(
            "/v1/reservations/R-1", json={"ttl_seconds": 3600}, headers=AUTH
        )
        assert extended.status_code == 200
        assert extended.json()["expires_at"] > placed.json()["expires_at"]
        got = (await client.get("/v1/reservations/R-1")).json()
        assert (got["status"], got["expires_at"]) == ("held", extended.json()["expires_at"])
        released = await client.delete("/v1/reservations/R-1")
        assert (released.status_code, released.json()["status"]) == (200, "released")
        again = await client.delete("/v1/reservations/R-1")
        assert (again.status_code, again.json()["status"]) == (200, "released")
        closed = await client.patch("/v1/reservations/R-1", json={"ttl_seconds": 60})
        assert (closed.status_code, closed.json()["error"]) == (409, "reservation_closed")
        assert (await reserve(client, "R-2", line(10, "DC-1"))).status_code == 201
        missing = await client.get("/v1/reservations/NOPE")
        assert (missing.status_code, missing.json()["error"]) == (404, "reservation_not_found")


async def test_a_hold_expires_within_two_seconds(api: Api, world_topics: World) -> None:
    async with api() as client, api() as second:  # two processes' sweepers, one lease
        placed = await reserve(client, "R-1", line(10, "DC-1"), ttl_seconds=1)
        assert placed.status_code == 201
        expires = time.time() + 1
        await asyncio.sleep(max(0.0, expires + 2 - time.time()))
        expired = [
            e
            for e in await hold_events(world_topics)
            if e["event_type"] == "hold_released" and e["reason"] == "expired"
        ]
        assert [e["event_id"] for e in expired] == ["R-1|DC-1|SKU-A|expired"]
        assert (await reserve(second, "R-2", line(10, "DC-1"))).status_code == 201
        got = (await client.get("/v1/reservations/R-1")).json()
        assert got["status"] == "expired"
        metrics = (await client.get("/metrics")).text
    assert 'stockline_reservations_total{outcome="expired"} 1.0' in metrics


async def test_kafka_down_answers_503_and_holds_nothing(api: Api) -> None:
    dead = f"127.0.0.1:{free_port()}"
    async with api(kafka_bootstrap=dead, api_publish_timeout_s=1.0) as client:
        answer = await reserve(client, "R-1", line(10, "DC-1"))
        assert (answer.status_code, answer.json()["error"]) == (503, "unavailable")
    async with api() as client:
        again = await reserve(client, "R-1", line(10, "DC-1"))  # the same answer, once more
        assert (again.status_code, again.content) == (503, answer.content)
        assert (await reserve(client, "R-2", line(10, "DC-1"))).status_code == 201


async def test_anonymous_writes_are_refused_unless_allowed(api: Api) -> None:
    async with api(api_tokens=[]) as client:
        refused = await client.post("/v1/reservations", json={})
        assert refused.status_code == 403
        assert "STOCKLINE_API_ALLOW_ANONYMOUS_WRITES" in refused.json()["detail"]
        assert (await client.get("/v1/availability/SKU-A")).status_code != 403
    async with api(api_tokens=[], api_allow_anonymous_writes=True) as client:
        body = {"reservation_id": "R-1", "lines": [line(1, "DC-1")]}
        assert (await client.post("/v1/reservations", json=body)).status_code == 201


async def test_the_sweep_keeps_the_late_gauge_at_zero(api: Api) -> None:
    async with api() as client:
        await reserve(client, "R-1", line(1, "DC-1"), ttl_seconds=1)

        async def scrape() -> str:
            return (await client.get("/metrics")).text

        text = await eventually(scrape, lambda t: "stockline_holds_past_expiry 0.0" in t, timeout=5)
    assert "stockline_holds_past_expiry 0.0" in text
