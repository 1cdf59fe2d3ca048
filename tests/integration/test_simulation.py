"""A short closed-loop simulation against a real worker: the simulator acts on the worker's
signals, and its own stock book (holds included) ends equal to stockline's ledger (Redis)
and ATP topic.

DC-1, the only node with lanes out, buys in bulk: reorder point = order-up-to and an MOQ
of 40, so from the day after its first sale of a SKU it holds spare above its order-up-to
and every short node it has a fast lane to is offered a transfer. Rebalances then follow
from the policy, not from how the worker's batches happen to fall."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from stockline.adapters.clients import kafka_consumer, kafka_producer
from stockline.adapters.network_file import load_network
from stockline.adapters.redis.store import RedisLedgerStore
from stockline.contracts.rfc3339 import parse, render_utc, to_epoch_us
from stockline.contracts.signals import ReorderRecord
from stockline.domain.signals import REORDER_REASON
from stockline.settings import Settings
from stockline.simulation.generator import SimConfig
from stockline.simulation.model import build_catalogue
from stockline.simulation.runner import run_closed_loop
from tests.integration.conftest import spawn
from tests.integration.harness import WorkerProcess, World

pytestmark = [pytest.mark.kafka, pytest.mark.redis]

NETWORK = """
nodes:
  - {id: DC-1, kind: dc, region: east, channels: [web]}
  - {id: MFC-1, kind: mfc, region: east, channels: [web, store-pickup]}
  - {id: STORE-1, kind: store, region: east, channels: [store-pickup]}
  - {id: STORE-2, kind: store, region: west, channels: [store-pickup, web]}
  - {id: STORE-3, kind: store, region: west, channels: [store-pickup]}  # no lane in: reorders
lanes:
  - {from: DC-1, to: MFC-1, transit_days: 1, cost_per_unit: 0.30}
  - {from: DC-1, to: STORE-1, transit_days: 0, cost_per_unit: 0.20}
  - {from: DC-1, to: STORE-2, transit_days: 2, cost_per_unit: 0.60}
classes:
  default: C
  prefixes: {"TV-": A, "LAP-": B}
policies:
  defaults:
    A: {kind: static, reorder_point: 12, order_up_to: 30, supplier_lead_time_days: 2}
    B: {kind: static, reorder_point: 6, order_up_to: 15, supplier_lead_time_days: 2}
    C: {kind: static, reorder_point: 3, order_up_to: 8, supplier_lead_time_days: 3}
"""
BULK_DC = "{DC-1: {reorder_point: 40, order_up_to: 40, moq: 40}}"


def write_network(path: Path, config: SimConfig) -> None:
    """NETWORK, with DC-1's bulk policy for every SKU the simulation will name."""
    path.write_text(NETWORK)
    skus = build_catalogue(load_network(path), config.n_skus, config.zipf_exponent, config.tag)
    overrides = "".join(f"    {spec.sku}: {{nodes: {BULK_DC}}}\n" for spec in skus)
    path.write_text(f"{NETWORK}  overrides:\n{overrides}")


async def test_a_closed_loop_acts_on_signals_and_ends_in_sync_with_the_ledger(
    world: World, workers: list[WorkerProcess], ledger: RedisLedgerStore, tmp_path: Path
) -> None:
    config = SimConfig(seed=11, tag=world.run, n_skus=10, daily_requests=120)
    world.network_file = tmp_path / "network.yaml"
    write_network(world.network_file, config)
    await world.create_topics()
    spawn(workers, world, tmp_path)

    result = await run_closed_loop(world.settings, load_network(world.network_file), config, days=6)

    sim = result.simulator
    assert result.signals["reorder"] > 0
    assert result.signals["rebalance"] > 0
    assert sim.tally.asns > 0
    assert sim.tally.asns_received > 0  # a 2-3 day lead time lands within the 6 days
    assert sim.tally.transfers > 0
    assert sim.tally.counts.transfers_received > 0
    assert result.kpis.divergence_units == 0
    assert result.differing == []
    for spec in sim.demand.catalogue:
        snapshot = await ledger.snapshot(spec.sku)
        assert snapshot is not None
        for node_id, stock in snapshot.nodes.items():
            level = sim.book.level((node_id, spec.sku))
            assert (stock.on_hand, stock.reserved, stock.inbound, stock.held) == (
                level.on_hand, level.reserved, level.inbound, level.held,
            ), (node_id, spec.sku)  # fmt: skip
    assert sim.tally.holds_committed > 0
    assert sim.tally.holds_released + sim.tally.holds_expired > 0


WALK_IN_NETWORK = """
nodes:
  - {id: DC-1, kind: dc, region: east, channels: [b2b]}
  - {id: STORE-1, kind: store, region: east, channels: [b2b]}
  - {id: STORE-2, kind: store, region: east, channels: [b2b]}
  - {id: STORE-3, kind: store, region: west, channels: [b2b]}
lanes:
  - {from: DC-1, to: STORE-1, transit_days: 0, cost_per_unit: 0.20}
  - {from: DC-1, to: STORE-2, transit_days: 1, cost_per_unit: 0.40}
classes:
  default: C
  prefixes: {"TV-": A, "LAP-": B}
policies:
  defaults:
    A: {kind: static, reorder_point: 12, order_up_to: 30, supplier_lead_time_days: 2}
    B: {kind: static, reorder_point: 6, order_up_to: 15, supplier_lead_time_days: 2}
    C: {kind: static, reorder_point: 3, order_up_to: 8, supplier_lead_time_days: 3}
"""
"""No node serves web or store pickup: the stores sell to walk-in customers only, so no
order, hold or cancellation (topics of their own) ever lowers or raises a position."""


async def test_a_day_is_reviewed_with_the_supply_ordered_for_it(
    world: World, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    """The loop publishes a day's ASNs and transfers, waits until the worker applied them,
    and only then the day's demand. In a world where only supply raises a position and only
    walk-in sales (no found stock, shrink, orders or holds) lower it, every review of a day
    sees at least the position the simulator's book ends that day with, so no reorder acted
    on the next morning may claim a lower one. A review that saw the day's demand before
    the ASN ordered for it does: it reorders the gap that ASN already covers."""
    config = SimConfig(
        seed=3, tag=world.run, n_skus=40, daily_requests=600, shrink_rate=0.0,
        adjustments_per_day=0.0,
    )  # fmt: skip
    world.network_file = tmp_path / "network.yaml"
    world.network_file.write_text(WALK_IN_NETWORK)
    await world.create_topics()
    spawn(workers, world, tmp_path)

    result = await run_closed_loop(world.settings, load_network(world.network_file), config, days=6)

    reorders = result.simulator.reorders
    assert len({r.day for r in reorders}) >= 4  # reorders on most mornings: the check bites
    stale = [
        (r.day, r.signal.node_id, r.signal.sku, r.signal.position, r.book_position)
        for r in reorders
        if r.signal.position < r.book_position
    ]
    assert stale == []
    assert result.simulator.tally.holds_placed == 0
    assert result.kpis.divergence_units == 0


MARK_QTY = 777
"""The stand-in's reorders ask for this many units: the ASN the simulator places for one
is recognised by its qty (the opening's ASNs are far smaller)."""
SUPPLY = ("inbound_expected", "transfer_shipped")
"""What a morning's reactions publish."""


def at_us(occurred_at: str) -> int:
    return to_epoch_us(parse(occurred_at))


class StandInWorker:
    """Reads the input topics in the workers' consumer group, as a worker would, but takes
    its time: after reading the ASN placed for one of its reorders it waits `pause` seconds
    and reads again before it commits. Anything but supply stamped after that ASN, read
    with it or then, is in `early`: demand the loop sent while the day's supply was
    not applied yet. After each batch it publishes a reorder (MARK_QTY units) of `key`
    before committing, as the worker publishes its signals before it commits."""

    def __init__(self, settings: Settings, key: tuple[str, str], pause: float = 0.5) -> None:
        self.settings, self.key, self.pause = settings, key, pause
        self.early: list[tuple[str, str]] = []
        self.marks_read = 0

    async def run(self) -> None:
        group = self.settings.consumer_group
        consumer = kafka_consumer(
            self.settings, group_id=group, enable_auto_commit=False, auto_offset_reset="earliest"
        )
        producer = kafka_producer(self.settings, acks="all")
        await consumer.start()
        await producer.start()
        try:
            partitions = range(self.settings.partitions)
            consumer.assign(
                [TopicPartition(t, p) for t in self.settings.input_topics for p in partitions]
            )
            while True:
                records = await self._read(consumer)
                if not records:
                    continue
                mark_us = self._mark_us(records)
                if mark_us is not None:
                    await asyncio.sleep(self.pause)
                    read = [*records, *await self._read(consumer)]
                    self.early += [
                        (e["event_type"], e["occurred_at"])
                        for e in map(json.loads, (r.value for r in read))
                        if at_us(e["occurred_at"]) > mark_us and e["event_type"] not in SUPPLY
                    ]
                await self._signal(producer, max(r.timestamp for r in records))
                await consumer.commit()
        finally:
            await producer.stop()
            await consumer.stop()

    @staticmethod
    async def _read(consumer: AIOKafkaConsumer) -> list[Any]:
        batch = await consumer.getmany(timeout_ms=100)
        return [r for records in batch.values() for r in records]

    def _mark_us(self, records: Sequence[Any]) -> int | None:
        marks = [
            at_us(e["occurred_at"])
            for e in (json.loads(r.value) for r in records)
            if e["event_type"] == "inbound_expected" and e["qty"] == MARK_QTY
        ]
        self.marks_read += len(marks)
        return min(marks) if marks else None

    async def _signal(self, producer: AIOKafkaProducer, at_ms: int) -> None:
        node_id, sku = self.key
        signal = ReorderRecord(
            signal_id=str(uuid.uuid4()), node_id=node_id, sku=sku, position=0,
            reorder_point=1, order_up_to=MARK_QTY, suggested_qty=MARK_QTY,
            reason=REORDER_REASON, as_of=render_utc(at_ms * 1000),
        )  # fmt: skip
        await producer.send_and_wait(self.settings.reorder_topic, signal.to_bytes())


async def test_the_loop_publishes_a_days_demand_only_once_its_supply_is_applied(
    world: World, tmp_path: Path
) -> None:
    """Deterministic whatever the worker's batching: a stand-in worker that pauses before
    committing the ASNs of its reorders reads none of the day's demand in the meantime."""
    config = SimConfig(seed=5, tag=world.run, n_skus=4, daily_requests=100)
    world.network_file = tmp_path / "network.yaml"
    world.network_file.write_text(NETWORK)
    network = load_network(world.network_file)
    await world.create_topics()
    sku = build_catalogue(network, config.n_skus, config.zipf_exponent, config.tag)[0].sku
    stand_in = StandInWorker(world.settings, ("STORE-1", sku))
    task = asyncio.create_task(stand_in.run())
    try:
        await run_closed_loop(world.settings, network, config, days=3)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    assert stand_in.marks_read >= 3  # an ASN of the stand-in's reorders every morning
    assert stand_in.early == []
