"""The daily review without events, the worker's sweep over owned partitions, and the
property that the same events, in any order and delivered any number of times, emit the
same signals (DESIGN.md section 5), on the in-memory store through `LedgerPipeline`.

Network: DC-1 supplies STORE-1 (1 day); static policy reorder_point 10, order_up_to 40,
case pack 10, MOQ 20, supplier lead time 28 days.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stockline.adapters.kafka.sweep import DailySweep, partition_of
from stockline.adapters.memory import ListPublisher, MemoryLedgerReader, MemoryLedgerStore
from stockline.adapters.metrics import Metrics
from stockline.adapters.network_file import load_network
from stockline.contracts.codec import encode
from stockline.domain.effects import US_PER_DAY
from stockline.domain.events import InventoryEvent, LostSale, OrderPlaced, Pick, Receipt
from stockline.domain.network import Network
from stockline.domain.signals import signal_id
from stockline.service_layer.planning import Planner
from stockline.service_layer.ports import RawRecord
from stockline.service_layer.process_batch import LedgerPipeline
from stockline.service_layer.review import DailyReview

DAY = 20_800
WEEK_US = 7 * US_PER_DAY
NETWORK = """
nodes:
  - {id: DC-1, kind: dc, region: east, channels: [web]}
  - {id: STORE-1, kind: store, region: east, channels: [web]}
lanes:
  - {from: DC-1, to: STORE-1, transit_days: 1, cost_per_unit: 0.5}
classes: {default: C}
policies:
  defaults:
    A: {kind: static, reorder_point: 10, order_up_to: 40, supplier_lead_time_days: 28}
    B: {kind: static, reorder_point: 10, order_up_to: 40, supplier_lead_time_days: 28}
    C: {kind: static, reorder_point: 10, order_up_to: 40, supplier_lead_time_days: 28,
        case_pack: 10, moq: 20}
"""


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Network:
    path: Path = tmp_path_factory.mktemp("network") / "network.yaml"
    path.write_text(NETWORK)
    return load_network(path)


def at(day: int, hour: int) -> int:
    return day * US_PER_DAY + hour * 3_600_000_000


class Rig:
    def __init__(self, network: Network) -> None:
        self.store, self.publisher = MemoryLedgerStore(), ListPublisher()
        self.now = at(DAY + 30, 0)
        planner = Planner(network)
        self.pipeline = LedgerPipeline(
            self.store, self.publisher, WEEK_US, clock=lambda: self.now, planner=planner
        )
        self.review = DailyReview(self.store, self.publisher, planner)
        self.offset = 0

    async def feed(self, events: list[InventoryEvent]) -> None:
        records = []
        for event in events:
            records.append(RawRecord("t", 0, self.offset, event.sku.encode(), encode(event)))
            self.offset += 1
        await self.pipeline.process(records)

    def reorders(self) -> list[dict[str, object]]:
        return [json.loads(value) for _, value in self.publisher.reorder]


async def test_a_node_left_short_is_reviewed_again_on_the_next_day_without_events(
    network: Network,
) -> None:
    rig = Rig(network)
    await rig.feed([Receipt("r1", at(DAY, 8), "wms", "STORE-1", "SKU-1", qty=8)])
    # position 8 ≤ 10: reorder ⌈32/10⌉·10 = 40 on DAY (the event clock's day)
    (first,) = rig.reorders()
    assert (first["suggested_qty"], first["position"]) == (40, 8)
    assert first["signal_id"] == signal_id("reorder", "STORE-1", "SKU-1", DAY, 0)
    # the same day's sweep finds the gap covered; the next day's, with nobody acting, emits
    await rig.review.review(["SKU-1"], DAY, "2026-12-12T00:00:00Z")
    assert len(rig.reorders()) == 1
    counts = await rig.review.review(["SKU-1"], DAY + 1, "2026-12-13T00:00:00Z")
    assert counts == {("reorder", "position_at_or_below_reorder_point"): 1}
    assert rig.reorders()[1]["signal_id"] == signal_id("reorder", "STORE-1", "SKU-1", DAY + 1)
    # a replayed sweep of DAY + 1 emits nothing new
    await rig.review.review(["SKU-1"], DAY + 1, "2026-12-13T00:00:00Z")
    assert len(rig.reorders()) == 2


async def test_a_lost_sale_raises_nothing_but_the_demand(network: Network) -> None:
    rig = Rig(network)
    await rig.feed([Receipt("r1", at(DAY, 8), "wms", "STORE-1", "SKU-1", qty=30),
                    LostSale("l1", at(DAY, 9), "oms", "STORE-1", "SKU-1", qty=4)])  # fmt: skip
    snapshot = await rig.store.snapshot("SKU-1")
    assert snapshot is not None
    assert snapshot.nodes["STORE-1"].on_hand == 30
    assert snapshot.demand == {"STORE-1": {DAY: 4}}


class FakeConsumer:
    def __init__(self, owned: set[int], partitions: int) -> None:
        self.batch_lock = asyncio.Lock()
        self._owned, self._partitions = owned, partitions

    def owned_partitions(self) -> tuple[set[int], int]:
        return self._owned, self._partitions


async def test_the_sweep_reviews_only_owned_partitions_once_a_day(network: Network) -> None:
    rig = Rig(network)
    skus = [f"SKU-{i}" for i in range(12)]
    await rig.feed([Receipt(f"r-{s}", at(DAY, 8), "wms", "STORE-1", s, qty=50) for s in skus])
    # 50 - 45 = 5 ≤ 10: every SKU is reordered on DAY; nobody acts on the signals
    await rig.feed([Pick(f"p-{s}", at(DAY, 9), "wms", "STORE-1", s, qty=45) for s in skus])
    rig.publisher.reorder.clear()
    owned = {0, 2}
    clock = {"now": at(DAY + 1, 1)}
    sweep = DailySweep(
        FakeConsumer(owned, 3),  # type: ignore[arg-type]
        rig.review,
        MemoryLedgerReader(rig.store),
        ["DC-1", "STORE-1"],
        Metrics(),
        interval_s=60,
        clock=lambda: clock["now"],
    )
    mine = sorted(s for s in skus if partition_of(s, 3) in owned)
    assert await sweep.sweep_once() == len(mine)
    assert sorted(str(r["sku"]) for r in rig.reorders()) == mine
    assert await sweep.sweep_once() == 0  # swept today already
    clock["now"] = at(DAY + 2, 1)
    assert await sweep.sweep_once() == len(mine)


def test_partitions_are_those_of_the_publishers_partitioner() -> None:
    from stockline.adapters.kafka.publisher import RememberingPartitioner

    partitioner = RememberingPartitioner()
    for i in range(50):
        key = f"SKU-{i}"
        assert partition_of(key, 6) == partitioner(key.encode(), list(range(6)), list(range(6)))


# --- any order, any duplication: the same signals ----------------------------------------

SKU = "SKU-P"
day_events = st.lists(
    st.tuples(
        st.sampled_from(["STORE-1", "DC-1"]),
        st.sampled_from(["receipt", "pick", "order", "lost"]),
        st.integers(1, 30),
    ),
    min_size=1,
    max_size=8,
)


def build(days: list[list[tuple[str, str, int]]]) -> list[list[InventoryEvent]]:
    out: list[list[InventoryEvent]] = []
    for d, events in enumerate(days):
        batch: list[InventoryEvent] = []
        for i, (node, kind, qty) in enumerate(events):
            eid, t = f"e{d}-{i}", at(DAY + d, 1 + i)
            if kind == "receipt":
                batch.append(Receipt(eid, t, "wms", node, SKU, qty=qty))
            elif kind == "pick":
                batch.append(Pick(eid, t, "wms", node, SKU, qty=qty))
            elif kind == "order":
                batch.append(OrderPlaced(eid, t, "oms", node, SKU, qty=qty, order_id=f"o-{eid}"))
            else:
                batch.append(LostSale(eid, t, "oms", node, SKU, qty=qty))
        out.append(batch)
    return out


async def signals_of(network: Network, days: list[list[InventoryEvent]]) -> set[str]:
    rig = Rig(network)
    for d, batch in enumerate(days):
        await rig.feed(batch)
        await rig.review.review([SKU], DAY + d, "2026-12-12T00:00:00Z")
    payloads = [*rig.publisher.reorder, *rig.publisher.rebalance]
    return {value.decode() for _, value in payloads}


@settings(max_examples=60, deadline=None)
@given(days=st.lists(day_events, min_size=1, max_size=4), data=st.data())
def test_any_order_and_duplication_of_the_same_events_emits_the_same_signals(
    network: Network, days: list[list[tuple[str, str, int]]], data: st.DataObject
) -> None:
    """Each day's events arrive in one batch in any order, some delivered again later (in
    the same or a later day's batch); the daily review runs after each day."""
    events = build(days)
    shuffled: list[list[InventoryEvent]] = []
    for d, batch in enumerate(events):
        mixed = list(data.draw(st.permutations(batch)))
        earlier = [e for b in events[: d + 1] for e in b]
        mixed += data.draw(st.lists(st.sampled_from(earlier), max_size=4))
        shuffled.append(mixed)
    expected = asyncio.run(signals_of(network, events))
    assert asyncio.run(signals_of(network, shuffled)) == expected
