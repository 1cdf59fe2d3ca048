"""schemathesis against the live API on the real Redis: every operation of the
checked-in OpenAPI document (schemas/openapi.json, kept equal to the served one by
test_openapi_document), all checks; no 5xx, no response outside the schema."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from redis.asyncio import Redis

from stockline.adapters.http.app import create_app
from stockline.adapters.http.openapi import OPENAPI_PATH
from stockline.adapters.memory import StaticNetworkView
from stockline.adapters.memory_reservations import ListHoldLog
from stockline.adapters.redis.keys import Keys
from stockline.adapters.redis.reader import RedisLedgerReader
from stockline.adapters.redis.reservations import RedisReservationRecords
from stockline.adapters.redis.store import RedisLedgerStore
from stockline.domain.events import InventoryEvent, OrderPlaced, Receipt
from stockline.service_layer.availability import Availability
from stockline.service_layer.ports import Delivery
from stockline.service_layer.reservations import Reservations
from tests.conftest import Stack
from tests.integration.live_api import serve

pytestmark = pytest.mark.redis

TOKEN = "schemathesis-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NETWORK = StaticNetworkView(
    safety={("DC-1", "A"): 5}, channels={"DC-1": frozenset({"web"}), "S-1": frozenset({"web"})}
)


async def _seed(redis_url: str, keys: Keys) -> None:
    """A few SKUs at two nodes, written by the worker's own store adapter."""
    redis = Redis.from_url(redis_url, decode_responses=True)
    store = RedisLedgerStore(redis, keys=keys, retention_us=7 * 86_400 * 10**6)
    t0 = 1_700_000_000_000_000
    events: list[InventoryEvent] = [
        Receipt(
            event_id=f"r-{sku}-{node}", occurred_us=t0, source="t", node_id=node, sku=sku, qty=9
        )
        for sku in ("A", "B", "C0")
        for node in ("DC-1", "S-1")
    ]
    events.append(
        OrderPlaced(
            event_id="o-1", occurred_us=t0, source="t", node_id="DC-1", sku="A", qty=2, order_id="O"
        )
    )
    deliveries = [Delivery(e, "seed", 0, n) for n, e in enumerate(events)]
    result = await store.apply(deliveries, t0)
    indexed = [(c.sku, n.node_id) for c in result.changes for n in c.nodes if n.new]
    await store.record_progress({("seed", 0): len(events) - 1}, indexed)
    await redis.aclose()


async def _clean(redis_url: str, keys: Keys) -> None:
    redis = Redis.from_url(redis_url, decode_responses=True)
    async for key in redis.scan_iter(match=f"{keys.prefix}:*", count=1000):
        await redis.unlink(key)
    await redis.aclose()


@pytest.fixture(scope="module")
def live_url(stack: Stack) -> Iterator[str]:
    keys = Keys(f"test-api-{uuid.uuid4().hex[:10]}")
    asyncio.run(_seed(stack.redis_url, keys))
    redis = Redis.from_url(stack.redis_url, decode_responses=True)
    availability = Availability(RedisLedgerReader(redis, keys=keys), NETWORK)
    store = RedisLedgerStore(redis, keys=keys, retention_us=7 * 86_400 * 10**6)
    reservations = Reservations(store, ListHoldLog(), RedisReservationRecords(redis, keys))
    app = create_app(
        availability, tokens=[TOKEN], on_shutdown=redis.aclose, reservations=reservations
    )
    try:
        with serve(app) as url:
            yield url
    finally:
        asyncio.run(_clean(stack.redis_url, keys))


schema = schemathesis.openapi.from_path(OPENAPI_PATH)


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_live_api_keeps_its_openapi_contract(case: Any, live_url: str) -> None:
    case.call_and_validate(base_url=live_url, headers=AUTH)
