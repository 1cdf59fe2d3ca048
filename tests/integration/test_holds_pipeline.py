"""Holds through the pipeline (DESIGN.md sections 3 and 6): the API's decision is applied
ahead of Kafka, the worker's apply of its `hold_placed` from `inventory.reservations` is a
duplicate that publishes the node's record, and a ledger rebuilt from the topics has every
hold back."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from redis.asyncio import Redis

from stockline.adapters.redis.store import RedisLedgerStore
from stockline.domain.events import HoldReleased, HoldReleaseReason, Receipt
from stockline.service_layer.ports import HoldRequest
from tests.integration.conftest import spawn
from tests.integration.harness import (
    Producer,
    WorkerProcess,
    World,
    eventually,
    published_nodes,
)
from tests.integration.test_rebuild import run_rebuild

pytestmark = [pytest.mark.kafka, pytest.mark.redis]

SKU, DC, STORE = "SKU-H1", "dc-1", "store-2"


def now_us() -> int:
    return time.time_ns() // 1_000


def receipt(node: str, qty: int, n: int) -> Receipt:
    return Receipt(f"in-{n}", now_us(), "wms", node, SKU, qty)


def line(rid: str, qty: int, *candidates: str) -> HoldRequest:
    return HoldRequest(
        event_id=f"{rid}#0.0",
        reservation_id=rid,
        qty=qty,
        candidates=candidates,
        expires_us=now_us() + 900 * 10**6,
        occurred_us=now_us(),
        source="stockline-api",
    )


async def node_record(world: World, node: str, held: int) -> dict[str, object]:
    records = await eventually(
        lambda: published_nodes(world),
        lambda found: found.get((SKU, node), {}).get("held") == held,
        timeout=60,
    )
    return records[SKU, node]


async def test_a_decided_hold_is_published_by_the_worker_and_survives_a_rebuild(
    world: World, workers: list[WorkerProcess], ledger: RedisLedgerStore, tmp_path: Path
) -> None:
    await world.create_topics()
    worker = spawn(workers, world, tmp_path)
    async with Producer(world) as producer:
        await producer.events([receipt(DC, 10, 1), receipt(STORE, 4, 2)])
        await node_record(world, STORE, held=0)

        decision = await ledger.hold(SKU, line("rsv-1", 6, STORE, DC), now_us())
        assert decision.placed is not None
        assert decision.placed.node_id == DC  # the store's 4 do not cover 6
        await producer.events([decision.placed])
        record = await node_record(world, DC, held=6)
        assert (record["on_hand"], record["atp"]) == (10, 4)

        kept = await ledger.hold(SKU, line("rsv-2", 3, STORE), now_us())
        assert kept.placed is not None
        await producer.events([kept.placed])
        await node_record(world, STORE, held=3)

        # a release the API applied and published: the record shows the units free again
        release = HoldReleased(
            "rsv-1|rel", now_us(), "stockline-api", DC, SKU, "rsv-1", HoldReleaseReason.RELEASED
        )
        await ledger.pre_apply([release], now_us())
        await producer.events([release])
        record = await node_record(world, DC, held=0)
        assert record["atp"] == 10
    worker.stop()

    redis = Redis.from_url(world.redis_url)
    async for key in redis.scan_iter(match=f"{world.settings.key_prefix}:*"):
        await redis.unlink(key)
    await redis.aclose()
    assert await ledger.snapshot(SKU) is None

    rebuilt = run_rebuild(world, "--yes")
    assert rebuilt.returncode == 0, rebuilt.stderr
    snapshot = await ledger.snapshot(SKU)
    assert snapshot is not None
    assert {n: (s.on_hand, s.held) for n, s in snapshot.nodes.items()} == {
        DC: (10, 0),
        STORE: (4, 3),
    }
    # the open hold is watched for expiry again
    due = await ledger.due_holds(now_us() + 901 * 10**6)
    assert [(d.sku, d.node_id, d.reservation_id) for d in due] == [(SKU, STORE, "rsv-2")]
