"""Events of every type through a real broker, a real worker process and a real Redis."""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path
from typing import Any, TypedDict

import pytest
from prometheus_client.parser import text_string_to_metric_families

from stockline.adapters.redis.store import RedisLedgerStore
from stockline.domain.events import (
    Adjustment,
    AdjustmentReason,
    CycleCount,
    InboundExpected,
    InventoryEvent,
    OrderCancelled,
    OrderPlaced,
    Pick,
    Receipt,
    TransferReceived,
    TransferShipped,
)
from stockline.domain.ledger import NodeStock
from tests.integration.conftest import spawn
from tests.integration.harness import (
    Producer,
    WorkerProcess,
    World,
    eventually,
    metric_value,
    published_nodes,
    published_skus,
    scrape,
)

pytestmark = [pytest.mark.kafka, pytest.mark.redis]


class _Envelope(TypedDict):
    event_id: str
    occurred_us: int
    source: str
    node_id: str
    sku: str


def story(sku: str, t0: int) -> list[InventoryEvent]:
    """Every event type on one SKU across a DC and a store; quantities worked out below."""

    def at(n: int, node: str) -> _Envelope:
        return {
            "event_id": f"{sku}-{n}",
            "occurred_us": t0 + n * 1_000_000,
            "source": "it",
            "node_id": node,
            "sku": sku,
        }

    return [
        InboundExpected(**at(1, "DC-1"), qty=100, asn_id="ASN-1"),  # DC-1 inbound 100
        Receipt(**at(2, "DC-1"), qty=60, asn_id="ASN-1"),  # on_hand 60, inbound 40
        OrderPlaced(**at(3, "DC-1"), qty=10, order_id="O-1"),  # reserved 10
        Pick(**at(4, "DC-1"), qty=4, order_id="O-1"),  # on_hand 56, reserved 6
        OrderPlaced(**at(5, "DC-1"), qty=7, order_id="O-2"),  # reserved 13
        OrderCancelled(**at(6, "DC-1"), order_id="O-2"),  # reserved 6
        Adjustment(**at(7, "DC-1"), delta=-3, reason=AdjustmentReason.DAMAGED),  # on_hand 53
        CycleCount(**at(8, "DC-1"), counted_qty=50),  # on_hand 50 as of t8
        Receipt(**at(9, "DC-1"), qty=5),  # on_hand 55 (after count)
        TransferShipped(**at(10, "DC-1"), qty=20, transfer_id="T-1", to_node="STORE-7"),
        TransferReceived(**at(11, "STORE-7"), qty=15, transfer_id="T-1", from_node="DC-1"),
    ]


# DC-1: on_hand 55 - 20 shipped = 35; reserved 6; inbound 40 (ASN-1: 100 expected - 60)
# STORE-7: on_hand 15; inbound 20 - 15 = 5; atp = on_hand - reserved - held (no buffer)
EXPECTED = {"DC-1": NodeStock(35, 6, 40), "STORE-7": NodeStock(15, 0, 5)}
ATP = {"DC-1": 35 - 6, "STORE-7": 15}


def published_values(sku: str, node: str) -> dict[str, object]:
    """The `inventory.atp.nodes` record of EXPECTED's (sku, node), without version and as_of."""
    stock = EXPECTED[node]
    return {
        "sku": sku,
        "node_id": node,
        "atp": ATP[node],
        "on_hand": stock.on_hand,
        "reserved": stock.reserved,
        "held": stock.held,
        "inbound": stock.inbound,
        "buffer": 0,
    }


def without_stamps(records: dict[Any, dict[str, Any]]) -> dict[Any, dict[str, Any]]:
    return {
        key: {k: v for k, v in r.items() if k not in ("version", "as_of")}
        for key, r in records.items()
    }


async def test_every_event_type_reaches_the_ledger_and_inventory_atp(
    world: World, workers: list[WorkerProcess], ledger: RedisLedgerStore, tmp_path: Path
) -> None:
    t0 = time.time_ns() // 1000 - 600_000_000
    skus = [f"SKU-E2E-{world.run}-{i}" for i in range(3)]
    await world.create_topics()
    spawn(workers, world, tmp_path)
    async with Producer(world) as producer:
        for sku in skus:
            await producer.events(story(sku, t0))
            await producer.events(story(sku, t0)[:4])  # the WMS retried: duplicates

    for sku in skus:
        snapshot = await eventually(
            partial(ledger.snapshot, sku), lambda s: s is not None and s.nodes == EXPECTED
        )
        assert snapshot is not None
        assert dict(snapshot.nodes) == EXPECTED

    # the worker publishes right after it applied: the topics catch up with the ledger
    want = {(sku, node): published_values(sku, node) for sku in skus for node in EXPECTED}
    nodes = await eventually(
        lambda: published_nodes(world), lambda got: without_stamps(got) == want, timeout=20
    )
    assert without_stamps(nodes) == want
    totals = await eventually(
        lambda: published_skus(world),
        lambda got: all(s in got and got[s]["network_atp"] == 44 for s in skus),
        timeout=20,
    )
    for sku in skus:
        redis_snapshot = await ledger.snapshot(sku)
        assert redis_snapshot is not None
        # every batch that changed the SKU published a record of each node it changed
        assert max(nodes[sku, n]["version"] for n in EXPECTED) == redis_snapshot.version
        assert totals[sku]["version"] <= redis_snapshot.version
        assert (totals[sku]["network_atp"], totals[sku]["channels"]) == ((35 - 6) + 15, {})

    metrics = await scrape(workers[0])
    applied = metric_value(
        metrics, "stockline_events_total", type="transfer_received", outcome="applied"
    )
    assert applied == 3
    assert metric_value(metrics, "stockline_events_total", type="receipt", outcome="duplicate") == 3
    assert metric_value(metrics, "stockline_apply_seconds_count") >= 1
    assert metric_value(metrics, "stockline_event_age_seconds_count") == 3 * len(story("x", t0))
    assert metric_value(metrics, "stockline_atp_messages_total") >= 3
    freshness = metric_value(metrics, "stockline_atp_freshness_seconds_count")
    assert freshness == 3 * len(story("x", t0))  # every applied event changed ATP

    def lag_samples(text: str) -> list[float]:
        return [
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "stockline_consumer_lag"
        ]

    caught_up = await eventually(
        lambda: scrape(workers[0]),
        lambda text: bool(lag_samples(text)) and not any(lag_samples(text)),
        timeout=20,
    )
    assert lag_samples(caught_up), "no consumer lag reported"
    assert set(lag_samples(caught_up)) == {0.0}


async def test_a_pick_beyond_on_hand_is_applied_counted_and_published_at_atp_zero(
    world: World, workers: list[WorkerProcess], ledger: RedisLedgerStore, tmp_path: Path
) -> None:
    """The physical count wins (DESIGN: on_hand may go below zero); the worker counts the
    anomaly on /metrics and publishes on_hand -3 with ATP 0."""
    t0 = time.time_ns() // 1000 - 60_000_000
    sku = f"SKU-NEG-{world.run}"
    await world.create_topics()
    spawn(workers, world, tmp_path)
    async with Producer(world) as producer:
        await producer.events([Receipt(f"{sku}-r", t0, "wms", "DC-1", sku, qty=2)])
        await eventually(partial(ledger.snapshot, sku), lambda s: s is not None)
        await producer.events([Pick(f"{sku}-p", t0 + 1, "wms", "DC-1", sku, qty=5)])

    nodes = await eventually(
        lambda: published_nodes(world),
        lambda got: got.get((sku, "DC-1"), {}).get("on_hand") == -3,
        timeout=20,
    )
    assert (nodes[sku, "DC-1"]["on_hand"], nodes[sku, "DC-1"]["atp"]) == (-3, 0)
    metrics = await eventually(
        lambda: scrape(workers[0]),
        lambda text: metric_value(text, "stockline_negative_on_hand_anomalies_total") > 0,
        timeout=20,
    )
    assert metric_value(metrics, "stockline_negative_on_hand_anomalies_total") == 1
