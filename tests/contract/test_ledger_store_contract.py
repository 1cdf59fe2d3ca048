"""The LedgerStore contract: the same cases on the in-memory store and on Redis.

Each subclass of LedgerStoreContract says how to make a fresh, empty store; every case
must pass on each (eventsourcing's recorder test cases, one subclass per recorder).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis, RedisCluster
from tests.conftest import Stack, cluster_client
from tests.unit.domain.ledger_events import (
    DC,
    SKU,
    STORE,
    arrivals,
    at,
    cycle_count,
    event_sets,
    inbound_expected,
    order_cancelled,
    order_placed,
    pick,
    receipt,
)
from tests.unit.domain.reference import Stock, reference_fold

from stockline.adapters.memory import MemoryLedgerStore, StaticNetworkView
from stockline.adapters.redis.keys import Keys
from stockline.adapters.redis.store import RedisLedgerStore
from stockline.domain.events import Event, InventoryEvent, event_type_of
from stockline.domain.ledger import NodeStock, Outcome, SkuTotals, sku_totals
from stockline.domain.signals import ReviewMark
from stockline.service_layer.ports import (
    ApplyResult,
    Delivery,
    LedgerStore,
    NodeTerms,
    PlanMarks,
    SkuChange,
    SkuSnapshot,
)

NOW_US = at(60)  # a minute after the events: all of them well inside the retention window
RETENTION_US = 7 * 86_400 * 10**6
OTHER_SKU = "SKU-2"
HUB = "hub-3"
A, D, R = Outcome.APPLIED, Outcome.DUPLICATE, Outcome.REDELIVERED


def topic_of(event: Event) -> str:
    return f"inventory.{event_type_of(event)}"


def delivery(event: InventoryEvent, offset: int, partition: int = 0) -> Delivery:
    return Delivery(event, topic_of(event), partition, offset)


TERMS = StaticNetworkView(
    channels={DC: frozenset({"web", "stores"}), STORE: frozenset({"stores"})},
    buffers={(STORE, SKU): 2},
)
"""Channels at the dc and the store, and a buffer of 2 units of SKU-1 at the store."""


def by_sku(changes: Iterable[SkuChange]) -> dict[str, SkuChange]:
    changes = list(changes)
    found = {change.sku: change for change in changes}
    assert len(found) == len(changes), "more than one change of a SKU in one batch"
    return found


def stock(result: ApplyResult) -> dict[str, dict[str, NodeStock]]:
    """Per changed SKU, the stock of each node its change carries."""
    return {c.sku: {n.node_id: n.stock for n in c.nodes} for c in by_sku(result.changes).values()}


def v(n: int) -> int:
    """The version after the n-th changing batch, all applied at NOW_US."""
    return NOW_US + n - 1


def versions(result: ApplyResult) -> dict[str, int]:
    return {c.sku: c.version for c in result.changes}


def recomputed(snapshot: SkuSnapshot, terms: NodeTerms) -> SkuTotals:
    """The totals from every node of the SKU, as a reader would compute them."""
    atp = {n: s.atp(terms.buffer(n, snapshot.sku)) for n, s in snapshot.nodes.items()}
    return sku_totals(atp, terms.channels_of)


class LedgerStoreContract:
    """Cases every LedgerStore passes. Not collected itself: its subclasses are."""

    async def make_store(self) -> LedgerStore:
        raise NotImplementedError

    async def test_an_empty_batch_does_nothing(self) -> None:
        store = await self.make_store()
        result = await store.apply([], NOW_US)
        assert (result.outcomes, result.changes, result.went_negative) == ([], [], 0)

    async def test_each_change_is_handed_over_as_the_store_has_it(self) -> None:
        store = await self.make_store()
        seen: list[SkuChange] = []
        first = receipt(10, event_id="r-1")
        result = await store.apply(
            [
                delivery(first, 0),
                delivery(receipt(3, sku=OTHER_SKU, event_id="r-2"), 1),
                delivery(pick(4, event_id="p-1"), 0),
                delivery(receipt(10, event_id="r-1"), 2),  # a duplicate changes nothing
            ],
            NOW_US,
            on_change=seen.append,
        )
        assert seen == result.changes
        assert {c.sku: c.nodes[0].stock.on_hand for c in seen} == {SKU: 6, OTHER_SKU: 3}
        unchanged: list[SkuChange] = []
        again = await store.apply([delivery(first, 3)], NOW_US, on_change=unchanged.append)
        assert (again.changes, unchanged) == ([], [])

    async def test_a_batch_gives_an_outcome_per_delivery_in_delivery_order(self) -> None:
        store = await self.make_store()
        first = receipt(10, event_id="r-1")
        result = await store.apply(
            [
                delivery(first, 0),
                delivery(receipt(5, sku=OTHER_SKU), 1),
                delivery(first, 2),  # published twice
                delivery(pick(3), 0),
            ],
            NOW_US,
        )
        assert result.outcomes == [A, A, D, A]
        # SKU-1: 10 - 3 = 7; SKU-2: 5
        assert stock(result) == {SKU: {DC: NodeStock(on_hand=7)}, OTHER_SKU: {DC: NodeStock(5)}}
        assert versions(result) == {SKU: v(1), OTHER_SKU: v(1)}

    async def test_a_change_carries_only_the_nodes_whose_values_changed(self) -> None:
        store = await self.make_store()
        await store.apply([delivery(receipt(4, node=STORE), 0), delivery(receipt(9), 1)], NOW_US)
        result = await store.apply(
            [delivery(pick(1), 2), delivery(order_placed(2, "o-1"), 0)], NOW_US
        )
        # the store did not move: only the dc's record goes out, at the SKU's new version
        (change,) = result.changes
        assert [(n.node_id, n.stock, n.atp, n.new) for n in change.nodes] == [
            (DC, NodeStock(on_hand=8, reserved=2), 6, False)
        ]
        assert change.version == v(2)

    async def test_a_node_is_new_the_first_time_an_event_touches_it(self) -> None:
        store = await self.make_store()
        first = await store.apply([delivery(receipt(4), 0)], NOW_US)
        second = await store.apply(
            [delivery(receipt(1), 1), delivery(order_cancelled("o-9", node=STORE), 2)], NOW_US
        )
        assert [n.new for n in first.changes[0].nodes] == [True]
        # a cancel before its order: the store appears, at all zeros, once
        assert [(n.node_id, n.new, n.stock) for n in second.changes[0].nodes] == [
            (DC, False, NodeStock(on_hand=5)),
            (STORE, True, NodeStock()),
        ]

    async def test_atp_subtracts_the_buffer_and_totals_follow_the_channels(self) -> None:
        store = await self.make_store()
        result = await store.apply(
            [
                delivery(receipt(10), 0),
                delivery(receipt(5, node=STORE), 1),
                delivery(order_placed(3, "o-1"), 0),
            ],
            NOW_US,
            TERMS,
        )
        (change,) = result.changes
        # dc: 10 - 3 = 7; store: 5 - buffer 2 = 3
        assert [(n.node_id, n.atp, n.buffer) for n in change.nodes] == [(DC, 7, 0), (STORE, 3, 2)]
        assert change.totals == SkuTotals(10, {"stores": 10, "web": 7})
        # a pick at the store moves the store's record and the totals, not the dc's
        moved = await store.apply([delivery(pick(1, node=STORE), 2)], NOW_US, TERMS)
        assert [n.node_id for n in moved.changes[0].nodes] == [STORE]
        assert moved.changes[0].totals == SkuTotals(9, {"stores": 9, "web": 7})
        assert await store.totals(SKU) == SkuTotals(9, {"stores": 9, "web": 7})

    async def test_no_totals_record_when_a_change_leaves_the_totals_alone(self) -> None:
        store = await self.make_store()
        await store.apply([delivery(receipt(10), 0), delivery(receipt(1, node=STORE), 1)], NOW_US)
        # inbound moves the record, not the ATP; a pick under the buffer moves no ATP either
        result = await store.apply(
            [
                delivery(inbound_expected(6, "asn-1"), 0),
                delivery(pick(1, node=STORE), 2),
            ],
            NOW_US,
            TERMS,
        )
        (change,) = result.changes
        assert [n.node_id for n in change.nodes] == [DC, STORE]
        # the store's ATP was 1 (no buffer then); now 0 - 2 floors at 0: that moved the totals
        assert change.totals == SkuTotals(10, {"stores": 10, "web": 10})
        again = await store.apply([delivery(inbound_expected(1, "asn-2"), 1)], NOW_US, TERMS)
        assert (again.changes[0].totals, [n.node_id for n in again.changes[0].nodes]) == (
            None,
            [DC],
        )

    async def test_kept_totals_equal_a_recomputation_from_every_node(self) -> None:
        store = await self.make_store()
        batches = [
            [delivery(receipt(10), 0), delivery(receipt(3, node=STORE), 1)],
            [delivery(order_placed(4, "o-1", node=STORE), 0), delivery(pick(2), 0)],
            [delivery(cycle_count(1, node=STORE, t=30), 0), delivery(receipt(2, node=HUB), 2)],
            [delivery(order_cancelled("o-1", node=STORE), 0)],
        ]
        for batch in batches:
            await store.apply(batch, NOW_US, TERMS)
            snapshot = await store.snapshot(SKU)
            assert snapshot is not None
            assert await store.totals(SKU) == recomputed(snapshot, TERMS)

    async def test_a_redelivered_offset_republishes_the_sku_at_the_same_version(self) -> None:
        store = await self.make_store()
        batch = [delivery(receipt(10), 0), delivery(receipt(5, node=STORE), 1)]
        first = await store.apply(batch, NOW_US, TERMS)
        assert stock(first) == {SKU: {DC: NodeStock(on_hand=10), STORE: NodeStock(on_hand=5)}}

        # a worker crashed before committing offset 1: Kafka hands it over again
        again = await store.apply(batch[1:], NOW_US, TERMS)
        assert again.outcomes == [R]
        (change,) = again.changes
        # the node that event touched, and the totals, at the same version
        assert change.nodes == first.changes[0].nodes[1:]
        assert (change.version, change.totals) == (v(1), first.changes[0].totals)

    async def test_a_replayed_batch_applies_only_the_offsets_not_applied_yet(self) -> None:
        store = await self.make_store()
        await store.apply([delivery(receipt(10), 0), delivery(receipt(5), 1)], NOW_US)
        result = await store.apply(
            [delivery(receipt(5), 1), delivery(receipt(1), 2), delivery(pick(4), 0)], NOW_US
        )
        # offset 1 was applied before (even with another event there, it is not read again)
        assert result.outcomes == [R, A, A]
        # 10 + 5 + 1 - 4 = 12
        assert (stock(result), versions(result)) == ({SKU: {DC: NodeStock(12)}}, {SKU: v(2)})

    async def test_offsets_count_per_partition(self) -> None:
        store = await self.make_store()
        await store.apply([delivery(receipt(10), 7)], NOW_US)
        result = await store.apply(
            [
                delivery(receipt(1), 7, partition=1),  # same offset, another partition
                delivery(receipt(2, sku=OTHER_SKU), 8),
            ],
            NOW_US,
        )
        assert result.outcomes == [A, A]
        assert stock(result) == {SKU: {DC: NodeStock(11)}, OTHER_SKU: {DC: NodeStock(2)}}

    async def test_skus_of_one_partition_interleave_within_a_batch(self) -> None:
        store = await self.make_store()
        # offsets of one partition alternate between SKUs; each is applied once
        batch = [
            delivery(receipt(1), 0),
            delivery(receipt(2, sku=OTHER_SKU), 1),
            delivery(receipt(3), 2),
            delivery(receipt(4, sku=OTHER_SKU), 3),
        ]
        result = await store.apply(batch, NOW_US)
        assert result.outcomes == [A, A, A, A]
        assert stock(result) == {SKU: {DC: NodeStock(4)}, OTHER_SKU: {DC: NodeStock(6)}}
        again = await store.apply(batch[2:], NOW_US)
        assert again.outcomes == [R, R]

    async def test_the_same_event_at_a_new_offset_is_a_duplicate_and_publishes_nothing(
        self,
    ) -> None:
        store = await self.make_store()
        event = receipt(10)
        await store.apply([delivery(event, 0)], NOW_US)
        result = await store.apply([delivery(event, 1)], NOW_US)
        assert (result.outcomes, result.changes) == ([D], [])
        assert await store.snapshot(SKU) == SkuSnapshot(SKU, v(1), {DC: NodeStock(on_hand=10)})

    async def test_the_version_rises_with_every_batch_that_changes_the_sku(self) -> None:
        store = await self.make_store()
        three = [delivery(receipt(10), 0), delivery(receipt(1), 1), delivery(pick(2), 0)]
        assert versions(await store.apply(three, NOW_US)) == {SKU: v(1)}
        # within the same microsecond: one more; later: the batch's time
        two = [delivery(receipt(1), 2), delivery(pick(2), 1)]
        assert versions(await store.apply(two, NOW_US)) == {SKU: v(2)}
        later = NOW_US + 5_000_000
        assert versions(await store.apply([delivery(receipt(1), 3)], later)) == {SKU: later}
        # a batch of another SKU only leaves this SKU's version alone
        await store.apply([delivery(receipt(1, sku=OTHER_SKU), 4)], later + 1)
        snapshot = await store.snapshot(SKU)
        assert snapshot is not None
        assert snapshot.version == later

    async def test_a_replay_republishes_every_node_it_touches_above_the_lost_versions(
        self,
    ) -> None:
        """After the store lost writes, the replayed events republish the nodes they touch
        even where they change nothing against the state the store came back with."""
        store = await self.make_store()
        await store.apply([delivery(receipt(10), 0), delivery(receipt(3, node=STORE), 1)], NOW_US)
        # an order placed and cancelled in one replayed batch nets to nothing at the dc
        replay = [
            delivery(order_placed(4, "o-1"), 0),
            delivery(order_cancelled("o-1"), 1),
            delivery(receipt(1, node=HUB), 2),
        ]
        later = NOW_US + 60_000_000
        result = await store.apply(replay, later, TERMS, republish=True)
        (change,) = result.changes
        assert [(n.node_id, n.stock) for n in change.nodes] == [
            (DC, NodeStock(on_hand=10)),
            (HUB, NodeStock(on_hand=1)),
        ]
        assert change.totals is not None
        assert change.version == later
        # without the flag, the same kind of batch publishes only what changed
        quiet = await store.apply(
            [delivery(order_placed(2, "o-2"), 2), delivery(order_cancelled("o-2"), 3)],
            later,
            TERMS,
        )
        assert quiet.changes == []

    async def test_nothing_is_published_when_an_applied_batch_changes_no_stock(self) -> None:
        store = await self.make_store()
        await store.apply([delivery(cycle_count(4, t=5), 0)], NOW_US)
        older = [delivery(cycle_count(9, t=2), 1), delivery(receipt(3, t=3), 0)]
        result = await store.apply(older, NOW_US)
        # both are older than the count at t=5: applied, yet on_hand stays 4
        assert (result.outcomes, result.changes) == ([A, A], [])
        assert await store.snapshot(SKU) == SkuSnapshot(SKU, v(1), {DC: NodeStock(on_hand=4)})

    async def test_changes_that_cancel_out_within_a_batch_publish_nothing(self) -> None:
        store = await self.make_store()
        await store.apply([delivery(receipt(10), 0)], NOW_US)
        # +5 - 5 = 0: the batch is coalesced, and the SKU did not change
        result = await store.apply([delivery(receipt(5), 1), delivery(pick(5), 0)], NOW_US)
        assert (result.outcomes, result.changes) == ([A, A], [])

    async def test_a_full_snapshot_comes_with_each_change_when_asked(self) -> None:
        store = await self.make_store()
        await store.apply([delivery(receipt(4, node=STORE), 0)], NOW_US)
        marks = PlanMarks(SKU, {STORE: ReviewMark(20_400, covered=36, given=0)}, {STORE: 3})
        await store.record_progress({}, [], [marks])
        result = await store.apply([delivery(receipt(10), 1)], NOW_US, full=True)
        (change,) = result.changes
        assert [n.node_id for n in change.nodes] == [DC]
        assert change.snapshot is not None
        assert change.snapshot == SkuSnapshot(
            SKU, v(2), {DC: NodeStock(on_hand=10), STORE: NodeStock(on_hand=4)}
        )
        assert change.snapshot.reviews == {STORE: ReviewMark(20_400, covered=36)}
        assert change.snapshot.safety_stock == {STORE: 3}
        assert (await store.apply([delivery(receipt(1), 2)], NOW_US)).changes[0].snapshot is None

    async def test_review_marks_are_kept_per_node_and_replaced_by_later_ones(self) -> None:
        store = await self.make_store()
        await store.apply([delivery(receipt(4, node=STORE), 0), delivery(receipt(9), 1)], NOW_US)
        first = {STORE: ReviewMark(20_400, covered=36), DC: ReviewMark(20_400, given=12)}
        await store.record_progress({}, [], [PlanMarks(SKU, first, {})])
        later = {STORE: ReviewMark(20_401, covered=6)}
        await store.record_progress({}, [], [PlanMarks(SKU, later, {STORE: 2})])
        snapshot = await store.snapshot(SKU)
        assert snapshot is not None
        assert snapshot.reviews == {STORE: ReviewMark(20_401, covered=6), DC: first[DC]}
        assert snapshot.safety_stock == {STORE: 2}
        result = await store.apply([delivery(receipt(1), 2)], NOW_US, full=True)
        assert result.changes[0].snapshot is not None
        assert result.changes[0].snapshot.reviews == snapshot.reviews

    async def test_the_event_clock_is_the_latest_occurred_at_applied(self) -> None:
        store = await self.make_store()
        await store.apply([delivery(receipt(5, t=40), 0), delivery(pick(1, t=10), 0)], NOW_US)
        # an older event arriving later, and a stale count that changes nothing, leave it
        result = await store.apply(
            [delivery(receipt(1, t=20), 1), delivery(cycle_count(9, t=5), 0)], NOW_US, full=True
        )
        (change,) = result.changes
        assert change.snapshot is not None
        assert change.snapshot.latest_us == at(40)
        stored = await store.snapshot(SKU)
        assert stored is not None
        assert stored.latest_us == at(40)
        await store.apply([delivery(pick(1, t=50), 1)], NOW_US)
        later = await store.snapshot(SKU)
        assert later is not None
        assert later.latest_us == at(50)

    async def test_went_negative_counts_nodes_whose_on_hand_drops_below_zero(self) -> None:
        store = await self.make_store()
        first = await store.apply([delivery(receipt(2), 0)], NOW_US)
        assert first.went_negative == 0
        result = await store.apply(
            [
                delivery(pick(3), 0),  # dc: 2 - 3 = -1
                delivery(pick(1, node=STORE), 1),  # store: 0 - 1 = -1
                delivery(receipt(5, node=HUB), 1),
                delivery(pick(5, node=HUB), 2),  # hub: 5 - 5 = 0, not negative
                delivery(pick(1, sku=OTHER_SKU), 3),  # SKU-2 at the dc: -1
            ],
            NOW_US,
        )
        assert result.went_negative == 3
        # already negative: going further below zero is not a new anomaly
        again = await store.apply([delivery(pick(1), 4)], NOW_US)
        assert again.went_negative == 0

    async def test_watermarks_never_go_down(self) -> None:
        store = await self.make_store()
        p0, p1, p2 = ("inventory.receipts", 0), ("inventory.receipts", 1), ("inventory.picks", 0)
        await store.record_progress({p0: 5, p1: 3})
        await store.record_progress({p0: 4, p1: 7})
        await store.record_progress({})
        assert await store.watermarks([p0, p1, p2]) == {p0: 5, p1: 7}
        assert await store.watermarks([p2]) == {}
        assert await store.watermarks([]) == {}

    async def test_an_unknown_sku_has_no_snapshot_and_no_totals(self) -> None:
        store = await self.make_store()
        await store.apply([delivery(receipt(1), 0)], NOW_US)
        assert await store.snapshot("SKU-never-seen") is None
        assert await store.totals("SKU-never-seen") is None
        assert await store.snapshot(SKU) == SkuSnapshot(SKU, v(1), {DC: NodeStock(on_hand=1)})

    async def test_order_lines_of_nodes_whose_ids_share_a_prefix_stay_apart(self) -> None:
        store = await self.make_store()
        # node "dc:1" with order "7", and node "dc" with order "1:7": two different lines
        await store.apply([delivery(order_placed(5, "7", node="dc:1"), 0)], NOW_US)
        await store.apply([delivery(order_cancelled("1:7", node="dc"), 1)], NOW_US)
        assert await store.snapshot(SKU) == SkuSnapshot(
            SKU, v(2), {"dc": NodeStock(), "dc:1": NodeStock(reserved=5)}
        )

    async def test_supplies_of_nodes_whose_ids_share_a_prefix_stay_apart(self) -> None:
        store = await self.make_store()
        # node "dc:asn:1" expects ASN "x"; node "dc" receives against ASN "1:asn:x"
        await store.apply([delivery(inbound_expected(10, "x", node="dc:asn:1"), 0)], NOW_US)
        await store.apply([delivery(receipt(4, node="dc", asn_id="1:asn:x"), 0)], NOW_US)
        assert await store.snapshot(SKU) == SkuSnapshot(
            SKU, v(2), {"dc": NodeStock(on_hand=4), "dc:asn:1": NodeStock(inbound=10)}
        )

    async def test_demand_is_recorded_per_node_and_day_once_per_event(self) -> None:
        store = await self.make_store()
        day = at(0) // 86_400_000_000
        placed = order_placed(5, "o-1", event_id="op-1")
        batch = [
            delivery(receipt(50), 0),  # a receipt is no demand
            delivery(placed, 1),  # an order's qty is demand
            delivery(pick(5, order_id="o-1"), 2),  # picking that order adds none
            delivery(pick(2), 3),  # a pick of no known order (walk-in sale) is demand
            delivery(order_placed(4, "o-2", node=STORE), 4),
            delivery(placed, 5),  # published twice: counted once
        ]
        result = await store.apply(batch, NOW_US, full=True)
        snapshot = result.changes[0].snapshot
        assert snapshot is not None
        assert snapshot.demand == {DC: {day: 5 + 2}, STORE: {day: 4}}
        stored = await store.snapshot(SKU)
        assert stored is not None
        assert stored.demand == {DC: {day: 7}, STORE: {day: 4}}


class TestMemoryLedgerStore(LedgerStoreContract):
    async def make_store(self) -> LedgerStore:
        return MemoryLedgerStore()


@pytest.mark.redis
class TestRedisLedgerStore(LedgerStoreContract):
    @pytest.fixture(autouse=True)
    def _redis(self, redis_client: Redis, keys: Keys) -> None:
        self.redis, self.keys = redis_client, keys

    async def make_store(self) -> LedgerStore:
        return RedisLedgerStore(self.redis, keys=self.keys, retention_us=RETENTION_US)

    async def test_skus_of_one_shard_are_applied_in_one_call(self) -> None:
        """Several SKUs of a shard share one script call; the call applies each alone."""
        store = RedisLedgerStore(
            self.redis, keys=Keys(self.keys.prefix, 256), retention_us=RETENTION_US
        )
        skus = [f"SKU-{n}" for n in range(40)]  # 40 SKUs over 256 shards: some share one
        shards = [Keys(self.keys.prefix, 256).shard(s) for s in skus]
        assert len(set(shards)) < len(skus)
        batch = [delivery(receipt(n + 1, sku=s), n) for n, s in enumerate(skus)]
        result = await store.apply(batch, NOW_US)
        assert stock(result) == {s: {DC: NodeStock(n + 1)} for n, s in enumerate(skus)}


@pytest.mark.redis_cluster
class TestRedisClusterLedgerStore(TestRedisLedgerStore):
    """The same cases on a Redis Cluster: shards spread over three primaries."""

    @pytest.fixture(autouse=True)
    def _redis(self, redis_cluster_client: RedisCluster, keys: Keys) -> None:
        self.redis, self.keys = redis_cluster_client, keys  # type: ignore[assignment]


# Differential test: random events through a simulated Kafka log, on Redis, on memory and
# through the reference fold.


@st.composite
def consumed_batches(draw: st.DrawFn) -> list[list[Delivery]]:
    """Batches a consumer reads from one partition per topic: random event sets published
    in any order, some events published twice (new offsets, so duplicates), and after
    some batches a crash that rewinds the consumer a few messages (so redeliveries)."""
    published = draw(arrivals(draw(event_sets(max_size=25))))
    next_offset: dict[str, int] = defaultdict(int)
    log = []
    for event in published:
        log.append(delivery(event, next_offset[topic_of(event)]))
        next_offset[topic_of(event)] += 1
    batches, position = [], 0
    while position < len(log):
        rewind = draw(st.integers(0, min(position, 4)))
        size = draw(st.integers(1, 6))
        batches.append(log[position - rewind : position + size])
        position += size
    return batches


def expected_outcomes(
    batch: Sequence[Delivery], consumed: set[tuple[str, int, int]], applied: set[str]
) -> list[Outcome]:
    """What a store must answer, given what was consumed and applied before."""
    outcomes = []
    for d in batch:
        position = (d.topic, d.partition, d.offset)
        if position in consumed:
            outcomes.append(R)
        elif d.event.event_id in applied:
            outcomes.append(D)
        else:
            outcomes.append(A)
            applied.add(d.event.event_id)
        consumed.add(position)
    return outcomes


def stock_of(snapshot: SkuSnapshot | None) -> dict[str, Stock] | None:
    if snapshot is None:
        return None
    return {node: (s.on_hand, s.reserved, s.inbound, s.held) for node, s in snapshot.nodes.items()}


def published_of(results: Iterable[ApplyResult]) -> dict[tuple[str, str], tuple[int, object]]:
    """The last record per (sku, node) a reader of the node topic keeps: (version, state)."""
    last: dict[tuple[str, str], tuple[int, object]] = {}
    for result in results:
        for change in result.changes:
            for node in change.nodes:
                last[change.sku, node.node_id] = (change.version, node)
    return last


async def replay_on_redis_and_memory(
    redis_url: str, batches: list[list[Delivery]], *, cluster: bool = False
) -> None:
    client = (
        cluster_client(redis_url) if cluster else Redis.from_url(redis_url, decode_responses=True)
    )
    keys = Keys(f"test-{uuid.uuid4().hex[:12]}")
    try:
        on_redis = RedisLedgerStore(client, keys=keys, retention_us=RETENTION_US)
        on_memory = MemoryLedgerStore()
        consumed: set[tuple[str, int, int]] = set()
        applied: set[str] = set()
        results = []
        for batch in batches:
            expected = expected_outcomes(batch, consumed, applied)
            redis_result = await on_redis.apply(batch, NOW_US, TERMS)
            memory_result = await on_memory.apply(batch, NOW_US, TERMS)
            assert redis_result.outcomes == memory_result.outcomes == expected
            assert by_sku(redis_result.changes) == by_sku(memory_result.changes)
            assert redis_result.went_negative == memory_result.went_negative
            results.append(redis_result)
        reference = reference_fold(d.event for batch in batches for d in batch)
        last = published_of(results)
        for sku, nodes in reference.items():
            snapshot = await on_redis.snapshot(sku)
            assert snapshot == await on_memory.snapshot(sku)
            assert stock_of(snapshot) == nodes
            assert snapshot is not None
            # the records a reader keeps add up to the ledger, node by node and in total
            assert {n: last[sku, n][1].stock for n in snapshot.nodes} == dict(snapshot.nodes)  # type: ignore[attr-defined]
            assert await on_redis.totals(sku) == recomputed(snapshot, TERMS)
    finally:
        async for key in client.scan_iter(match=f"{keys.prefix}:*", count=1000):
            await client.unlink(key)
        await client.aclose()


@pytest.mark.redis
@settings(max_examples=100, deadline=None)
@given(batches=consumed_batches())
def test_redis_folds_random_batches_like_the_reference_and_the_memory_store(
    stack: Stack, batches: list[list[Delivery]]
) -> None:
    # a sync test driving its own event loop per example: hypothesis does not run async tests
    asyncio.run(replay_on_redis_and_memory(stack.redis_url, batches))


@pytest.mark.redis_cluster
@settings(max_examples=25, deadline=None)
@given(batches=consumed_batches())
def test_a_redis_cluster_folds_random_batches_like_the_reference(
    redis_cluster_url: str, batches: list[list[Delivery]]
) -> None:
    asyncio.run(replay_on_redis_and_memory(redis_cluster_url, batches, cluster=True))
