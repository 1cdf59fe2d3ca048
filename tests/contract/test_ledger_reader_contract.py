"""The same read-side cases on the in-memory reader and on Redis: a store writes, the
reader reads back exactly that."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Protocol

import pytest
from redis.asyncio import Redis, RedisCluster
from tests.conftest import Stack, cluster_client
from tests.unit.service_layer.read_side import T0, order, receipt, stock

from stockline.adapters.memory import MemoryLedgerReader, MemoryLedgerStore
from stockline.adapters.redis.keys import Keys
from stockline.adapters.redis.reader import RedisLedgerReader
from stockline.adapters.redis.store import RedisLedgerStore
from stockline.domain.events import InventoryEvent
from stockline.domain.ledger import NodeStock
from stockline.service_layer.availability import LedgerReader
from stockline.service_layer.ports import Delivery, LedgerStore


class Pair(Protocol):
    store: LedgerStore
    reader: LedgerReader


class _Pair:
    def __init__(self, store: LedgerStore, reader: LedgerReader) -> None:
        self.store, self.reader = store, reader


@pytest.fixture(
    params=[
        "memory",
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("redis-cluster", marks=pytest.mark.redis_cluster),
    ]
)
async def pair(request: pytest.FixtureRequest) -> AsyncIterator[Pair]:
    if request.param == "memory":
        store = MemoryLedgerStore()
        yield _Pair(store, MemoryLedgerReader(store))
        return
    keys = Keys(f"test-reader-{uuid.uuid4().hex[:12]}")
    redis: Redis | RedisCluster
    if request.param == "redis-cluster":
        redis = cluster_client(request.getfixturevalue("redis_cluster_url"))
    else:
        stack: Stack = request.getfixturevalue("stack")
        redis = Redis.from_url(stack.redis_url, decode_responses=True)
    yield _Pair(
        RedisLedgerStore(redis, keys=keys, retention_us=7 * 86_400 * 10**6),
        RedisLedgerReader(redis, keys=keys),
    )
    async for key in redis.scan_iter(match=f"{keys.prefix}:*", count=1000):
        await redis.unlink(key)
    await redis.aclose()


async def test_snapshots_read_back_in_the_order_asked_with_none_for_unknown(pair: Pair) -> None:
    await stock(pair.store)
    a, missing, b = await pair.reader.snapshots(["SKU-A", "SKU-NONE", "SKU-B"])
    assert missing is None
    assert a is not None
    assert b is not None
    assert (a.version, dict(a.nodes)) == (
        T0,  # the time of the batch that changed it
        {"DC-1": NodeStock(50, 8, 0), "STORE-1": NodeStock(6, 0, 0)},
    )
    assert dict(b.nodes) == {"DC-1": NodeStock(3, 0, 0)}


async def test_node_skus_page_in_sku_order_after_the_cursor(pair: Pair) -> None:
    await stock(pair.store)
    first = await pair.reader.node_skus("MFC-1", after=None, limit=3)
    after = await pair.reader.node_skus("MFC-1", after="SKU-P22", limit=10)
    assert first == ["SKU-P00", "SKU-P01", "SKU-P02"]
    assert after == ["SKU-P23", "SKU-P24"]
    assert await pair.reader.node_skus("NODE-X", after=None, limit=3) == []


async def test_a_sku_is_listed_at_each_node_it_reaches_batch_after_batch(pair: Pair) -> None:
    batches: list[list[InventoryEvent]] = [
        [receipt("SKU-A", "DC-1", 5)],
        [receipt("SKU-A", "STORE-1", 2), receipt("SKU-B", "DC-1", 1)],
        [order("SKU-A", "DC-1", 1)],
        [receipt("SKU-A", "MFC-1", 3)],
    ]
    offset = 0
    for events in batches:
        deliveries = [Delivery(e, "seed", 0, offset + n) for n, e in enumerate(events)]
        offset += len(events)
        result = await pair.store.apply(deliveries, T0)
        indexed = [(c.sku, n.node_id) for c in result.changes for n in c.nodes if n.new]
        await pair.store.record_progress({("seed", 0): offset - 1}, indexed)
    listed = {
        node: await pair.reader.node_skus(node, after=None, limit=10)
        for node in ("DC-1", "STORE-1", "MFC-1")
    }
    assert listed == {"DC-1": ["SKU-A", "SKU-B"], "STORE-1": ["SKU-A"], "MFC-1": ["SKU-A"]}


async def test_an_empty_batch_reads_nothing_and_ping_answers(pair: Pair) -> None:
    assert await pair.reader.snapshots([]) == []
    assert await pair.reader.ping()


async def test_ping_is_false_when_redis_is_unreachable() -> None:
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    assert not await RedisLedgerReader(dead, keys=Keys("x")).ping()
    await dead.aclose()
