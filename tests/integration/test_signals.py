"""Reorder and rebalance signals from the live ledger, on the real broker and Redis."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from stockline.adapters.redis.store import RedisLedgerStore
from stockline.contracts.signals import parse_rebalance, parse_reorder
from stockline.domain.effects import day_of
from stockline.domain.events import OrderPlaced, Receipt
from tests.integration.conftest import spawn
from tests.integration.harness import (
    Producer,
    WorkerProcess,
    World,
    eventually,
    metric_value,
    read_to_end,
    read_topic,
    scrape,
)
from tests.reliability.checks import committed_offsets, end_offsets

pytestmark = [pytest.mark.kafka, pytest.mark.redis]

NETWORK = """
nodes:
  - {id: DC-1, kind: dc, region: east, channels: [web]}
  - {id: DC-2, kind: dc, region: west, channels: [web]}
  - {id: STORE-1, kind: store, region: east, channels: [store-pickup]}
lanes:
  - {from: DC-1, to: STORE-1, transit_days: 1, cost_per_unit: 0.40}
  - {from: DC-2, to: STORE-1, transit_days: 4, cost_per_unit: 0.90}
classes: {default: C}
policies:
  defaults:
    A: {kind: static, reorder_point: 10, order_up_to: 40, supplier_lead_time_days: 14}
    B: {kind: static, reorder_point: 10, order_up_to: 40, supplier_lead_time_days: 14}
    C:
      kind: static
      reorder_point: 10
      order_up_to: 40
      supplier_lead_time_days: 14
      case_pack: 5
      moq: 10
"""


async def test_a_demand_burst_rebalances_from_the_best_donor_or_reorders_without_one(
    world: World, workers: list[WorkerProcess], ledger: RedisLedgerStore, tmp_path: Path
) -> None:
    network = tmp_path / "network.yaml"
    network.write_text(NETWORK)
    world.network_file = network
    now = time.time_ns() // 1000
    with_donor, without = f"SKU-SIG-{world.run}-1", f"SKU-SIG-{world.run}-2"

    def receipt(sku: str, node: str, qty: int, n: int) -> Receipt:
        return Receipt(f"{sku}-r{n}", now - 3_600_000_000, "wms", node, sku, qty=qty)

    def burst(sku: str, n: int) -> list[OrderPlaced]:
        # 4 orders of 5 at STORE-1 over the last hours: 20 reserved
        return [
            OrderPlaced(
                f"{sku}-o{n}-{i}",
                now - (4 - i) * 600_000_000,
                "oms",
                "STORE-1",
                sku,
                qty=5,
                order_id=f"SO-{sku}-{i}",
            )
            for i in range(4)
        ]

    stock = [
        receipt(with_donor, "STORE-1", 25, 1),
        receipt(with_donor, "DC-1", 100, 2),  # spare 100 - 40 = 60, lane 1 day, 0.40/unit
        receipt(with_donor, "DC-2", 200, 3),  # spare 200 - 40 = 160, lane 4 days, 0.90/unit
        receipt(without, "STORE-1", 25, 4),
        receipt(without, "DC-1", 30, 5),  # 30 < order_up_to 40: nothing to spare
    ]
    await world.create_topics()
    spawn(workers, world, tmp_path)
    async with Producer(world) as producer:
        await producer.events(stock)
        await eventually(lambda: ledger.snapshot(without), lambda s: s is not None)
        await producer.events(burst(with_donor, 1) + burst(without, 2))

    await read_topic(world, "inventory.signals.reorder", expect=1)
    await read_topic(world, "inventory.signals.rebalance", expect=1)
    # every input committed (the workers publish a batch's signals before committing it):
    # each topic read to its end then holds every signal emitted, a repeat included
    ends = await end_offsets(world)
    caught_up = await eventually(
        lambda: committed_offsets(world),
        lambda done: all(done.get(tp, 0) >= end for tp, end in ends.items()),
    )
    assert all(caught_up.get(tp, 0) >= end for tp, end in ends.items())
    reorders = await read_to_end(world, "inventory.signals.reorder")
    rebalances = await read_to_end(world, "inventory.signals.rebalance")
    assert len(reorders) == 1
    assert len(rebalances) == 1
    metrics = await scrape(workers[0])  # and the worker counted what it published
    assert metric_value(metrics, "stockline_signals_total", kind="reorder") == 1
    assert metric_value(metrics, "stockline_signals_total", kind="rebalance") == 1

    rebalance = parse_rebalance(rebalances[0].value)
    assert rebalances[0].key.decode() == with_donor
    # STORE-1: position 25 - 20 = 5 <= reorder_point 10; need 40 - 5 = 35.
    # DC-2 has the most spare (200 - 40 = 160): the donor with the most spare units wins,
    # on its only lane (4 days, still faster than the 14-day supplier lead time).
    assert rebalance.from_node == "DC-2"
    assert rebalance.to_node == "STORE-1"
    assert rebalance.qty == 35  # min(160, 35), a multiple of the case pack of 5
    assert rebalance.lane_days == 4
    assert rebalance.lane_cost == 0.9

    reorder = parse_reorder(reorders[0].value)
    assert reorder.sku == without
    assert reorder.node_id == "STORE-1"
    assert reorder.position == 5
    assert reorder.reorder_point == 10
    assert reorder.order_up_to == 40
    assert reorder.suggested_qty == 35  # 40 - 5 = 35, a multiple of 5 and >= MOQ 10

    snapshot = await ledger.snapshot(with_donor)
    assert snapshot is not None
    expected: dict[int, int] = {}
    for order in burst(with_donor, 1):  # the orders are the demand, per UTC day
        expected[day_of(order.occurred_us)] = expected.get(day_of(order.occurred_us), 0) + 5
    assert snapshot.demand["STORE-1"] == expected
