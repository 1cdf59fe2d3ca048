"""The ledger rules of domain/retention.py and domain/batch.py, held to the same cases on the
in-memory store (which runs them) and on Redis and Redis Cluster (apply.lua, which mirrors
them): what is forgotten at the window's edge, which offsets are redelivered, the crossings
below zero and the version bump per batch.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import pytest
from redis.asyncio import Redis, RedisCluster
from tests.contract.test_ledger_store_contract import HUB, OTHER_SKU, delivery
from tests.unit.domain.ledger_events import (
    DC,
    SKU,
    STORE,
    cycle_count,
    hold_placed,
    hold_released,
    inbound_expected,
    order_cancelled,
    order_placed,
    pick,
    receipt,
)

from stockline.adapters.memory import MemoryLedgerStore
from stockline.adapters.redis.keys import DEFAULT_SHARDS, Keys
from stockline.adapters.redis.store import RedisLedgerStore
from stockline.domain.effects import US_PER_DAY
from stockline.domain.events import InventoryEvent
from stockline.domain.ledger import NodeStock, Outcome
from stockline.domain.retention import WEEK_US, Retention
from stockline.domain.shards import shard_of
from stockline.service_layer.ports import LedgerStore

NOW_US = 1_790_000_060_000_000  # a minute after the events' T0 (2026-09-21T13:33:20Z)
A, D, R = Outcome.APPLIED, Outcome.DUPLICATE, Outcome.REDELIVERED


def at_us(event: InventoryEvent, occurred_us: int) -> InventoryEvent:
    return replace(event, occurred_us=occurred_us)


def wall_clock_us() -> int:
    return time.time_ns() // 1000


async def stock_of(store: LedgerStore, sku: str = SKU) -> dict[str, NodeStock]:
    snapshot = await store.snapshot(sku)
    assert snapshot is not None
    return dict(snapshot.nodes)


async def version_of(store: LedgerStore, sku: str = SKU) -> int:
    snapshot = await store.snapshot(sku)
    assert snapshot is not None
    return snapshot.version


def sku_in_shard(same_as: str, same: bool) -> str:
    """A SKU in the same ledger shard as `same_as` (or in another one)."""
    candidates = (f"SKU-{n}" for n in range(2, 100_000))
    home = shard_of(same_as, DEFAULT_SHARDS)
    return next(s for s in candidates if (shard_of(s, DEFAULT_SHARDS) == home) is same)


class LedgerRulesContract:
    """Cases every LedgerStore passes with a given retention window. Not collected itself."""

    async def make_store(self, retention_us: int) -> LedgerStore:
        raise NotImplementedError

    # Retention.remembers_event

    async def test_an_event_id_is_a_duplicate_for_exactly_the_window(self) -> None:
        store = await self.make_store(WEEK_US)
        old, new = receipt(10, event_id="old"), receipt(3, event_id="new")
        await store.apply([delivery(old, 0)], NOW_US - 1)
        await store.apply([delivery(new, 1)], NOW_US)
        # a week after "new" was applied: a microsecond too late for "old"
        result = await store.apply([delivery(old, 2), delivery(new, 3)], NOW_US + WEEK_US)
        assert result.outcomes == [A, D]
        # 10 + 3 + 10 (old, applied again) = 23
        assert await stock_of(store) == {DC: NodeStock(on_hand=23)}

    # Retention.keeps_entry: Redis expires the keys on its own clock, so these cases run on
    # the wall clock, with a window of a second (and of a minute, to compare).

    async def apply_entries_then_late_events(self, window_us: int, wait_s: float) -> NodeStock:
        store = await self.make_store(window_us)
        first = wall_clock_us()
        entries: list[InventoryEvent] = [
            order_cancelled("o-1"),  # a cancel before its order: the line holds nothing
            order_placed(3, "o-2"),  # reserves 3
            receipt(5, asn_id="a-1"),  # received before expected: the supply holds nothing
            inbound_expected(4, "a-2"),  # inbound 4
            hold_released("r-1"),  # a release before its hold: the hold holds nothing
            hold_placed(2, "r-2"),  # holds 2
        ]
        await store.apply([delivery(e, n) for n, e in enumerate(entries)], first)
        await asyncio.sleep(wait_s)
        late: list[InventoryEvent] = [
            order_placed(5, "o-1"),  # reserves 5 if its line was forgotten, else nothing
            inbound_expected(6, "a-1"),  # 6 inbound if forgotten, else 6 - 5 = 1
            hold_placed(1, "r-1"),  # holds 1 if forgotten, else nothing
            pick(1, order_id="o-2"),  # a live line: reserved 3 - 1 = 2
            receipt(1, asn_id="a-2"),  # a live supply: inbound 4 - 1 = 3
            hold_released("r-2"),  # a live hold: holds 0
        ]
        second = max(wall_clock_us(), first + int(wait_s * 1_000_000))
        await store.apply([delivery(e, 10 + n) for n, e in enumerate(late)], second)
        return (await stock_of(store))[DC]

    async def test_lines_supplies_and_holds_that_hold_nothing_expire_after_the_window(
        self,
    ) -> None:
        stock = await self.apply_entries_then_late_events(window_us=1_000_000, wait_s=1.3)
        # on_hand 5 - 1 + 1 = 5; reserved 2 + 5 = 7; inbound 3 + 6 = 9; held 0 + 1 = 1
        assert stock == NodeStock(on_hand=5, reserved=7, inbound=9, held=1)

    async def test_within_the_window_they_are_remembered(self) -> None:
        stock = await self.apply_entries_then_late_events(window_us=60_000_000, wait_s=0)
        # reserved 2 + 0 = 2; inbound 3 + 1 = 4; held 0 + 0 = 0
        assert stock == NodeStock(on_hand=5, reserved=2, inbound=4, held=0)

    # Retention.trims_deltas, Retention.keeps_delta: only a count older than the window (one
    # the codec rejects as stale) can see which deltas are left.

    async def test_a_later_days_first_delta_trims_the_deltas_older_than_the_window(
        self,
    ) -> None:
        store = await self.make_store(WEEK_US)
        cutoff = NOW_US - WEEK_US
        first_day = NOW_US - 2 * US_PER_DAY
        old = [at_us(receipt(7), cutoff - 1), at_us(receipt(4), cutoff)]
        await store.apply([delivery(e, n) for n, e in enumerate(old)], first_day)
        await store.apply(
            [
                delivery(at_us(pick(1), NOW_US), 2),  # trims the dc: drops the 7
                delivery(at_us(receipt(5, node=HUB), cutoff - 1), 3),  # the hub's first day
            ],
            NOW_US,
        )
        # the same day again: no second trim, this 2 stays
        await store.apply([delivery(at_us(receipt(2), cutoff - 1), 4)], NOW_US + 1)
        assert await stock_of(store) == {DC: NodeStock(on_hand=12), HUB: NodeStock(on_hand=5)}
        stale = [at_us(cycle_count(0, node=n), cutoff - US_PER_DAY) for n in (DC, HUB)]
        await store.apply([delivery(e, 5 + n) for n, e in enumerate(stale)], NOW_US + 2)
        # dc: 0 + 4 - 1 + 2 = 5 (without the trim 0 + 7 + 4 - 1 + 2 = 12); hub: 0 + 5
        assert await stock_of(store) == {DC: NodeStock(on_hand=5), HUB: NodeStock(on_hand=5)}

    # batch.redelivered

    async def test_offsets_count_per_ledger_shard_and_partition(self) -> None:
        store = await self.make_store(WEEK_US)
        same, other = sku_in_shard(SKU, same=True), sku_in_shard(SKU, same=False)
        await store.apply([delivery(receipt(1), 5)], NOW_US)
        result = await store.apply(
            [
                delivery(receipt(2, sku=same), 3),  # its shard applied up to 5: redelivered
                delivery(receipt(3, sku=other), 3),  # another shard's offsets: applied
                delivery(receipt(4), 5),  # the last offset applied: redelivered
                delivery(receipt(5), 6),  # the next one: applied
                delivery(receipt(6, sku=other), 3),  # a position twice in a batch
                delivery(receipt(7, sku=same), 3, partition=1),  # another partition
            ],
            NOW_US,
        )
        assert result.outcomes == [R, A, R, A, R, A]
        assert await stock_of(store) == {DC: NodeStock(on_hand=1 + 5)}
        assert await stock_of(store, other) == {DC: NodeStock(on_hand=3)}
        assert await stock_of(store, same) == {DC: NodeStock(on_hand=7)}

    # batch.went_negative

    async def test_a_crossing_below_zero_counts_once_per_node_and_batch(self) -> None:
        store = await self.make_store(WEEK_US)
        await store.apply([delivery(receipt(2), 0), delivery(receipt(1, node=STORE), 1)], NOW_US)
        dips = await store.apply(
            [
                delivery(pick(3), 1),  # dc: 2 - 3 = -1 ...
                delivery(receipt(3), 2),  # ... and back to 2: no crossing
                delivery(pick(2, node=STORE), 3),  # store: 1 - 2 = -1 ...
                delivery(pick(1, node=STORE), 4),  # ... -2: one crossing
                delivery(pick(1, node=HUB), 5),  # hub, new: 0 - 1 = -1, one crossing
            ],
            NOW_US,
        )
        assert dips.went_negative == 2
        assert (await store.apply([delivery(receipt(5, node=STORE), 6)], NOW_US)).went_negative == 0
        below = pick(4, node=STORE, event_id="below")
        again = await store.apply([delivery(below, 7)], NOW_US)  # store: 3 - 4 = -1
        assert again.went_negative == 1
        # the same pick redelivered, and published again: no crossing, no change
        replayed = await store.apply([delivery(below, 7), delivery(below, 8)], NOW_US)
        assert (replayed.outcomes, replayed.went_negative) == ([R, D], 0)
        assert (await stock_of(store))[STORE] == NodeStock(on_hand=-1)

    # batch.version_after

    async def test_one_version_bump_per_batch_that_moves_a_node(self) -> None:
        store = await self.make_store(WEEK_US)
        first = [
            delivery(receipt(10, event_id="r-1"), 0),
            delivery(pick(2, event_id="p-1"), 1),
            delivery(receipt(1, node=STORE), 2),
        ]
        result = await store.apply(first, NOW_US)
        # three events over two nodes: one bump, to the batch's time
        assert [c.version for c in result.changes] == [NOW_US]
        later = NOW_US + 5_000_000
        second = await store.apply([delivery(receipt(1), 3)], later)
        assert [c.version for c in second.changes] == [later]

    async def test_a_batch_of_duplicates_and_redeliveries_leaves_the_version(self) -> None:
        store = await self.make_store(WEEK_US)
        placed = receipt(10, event_id="r-1")
        await store.apply([delivery(placed, 0), delivery(pick(2), 1)], NOW_US)
        later = NOW_US + 5_000_000
        result = await store.apply([delivery(placed, 2), delivery(pick(2), 1)], later)
        assert result.outcomes == [D, R]
        # the redelivered pick republishes the dc, at the version it had
        assert [(c.version, [n.node_id for n in c.nodes]) for c in result.changes] == [
            (NOW_US, [DC])
        ]
        assert await version_of(store) == NOW_US

    async def test_a_replay_that_moves_no_node_republishes_at_the_same_version(self) -> None:
        store = await self.make_store(WEEK_US)
        await store.apply([delivery(receipt(10), 0)], NOW_US)
        later = NOW_US + 5_000_000
        nets_to_nothing = [delivery(order_placed(4, "o-1"), 1), delivery(order_cancelled("o-1"), 2)]
        result = await store.apply(nets_to_nothing, later, republish=True)
        assert [(c.version, [n.node_id for n in c.nodes]) for c in result.changes] == [
            (NOW_US, [DC])
        ]
        # another SKU's change leaves this one's version alone
        await store.apply([delivery(receipt(1, sku=OTHER_SKU), 3)], later + 1)
        assert await version_of(store) == NOW_US


class TestMemoryLedgerRules(LedgerRulesContract):
    async def make_store(self, retention_us: int) -> LedgerStore:
        return MemoryLedgerStore(retention=Retention(retention_us))


@pytest.mark.redis
class TestRedisLedgerRules(LedgerRulesContract):
    @pytest.fixture(autouse=True)
    def _redis(self, redis_client: Redis, keys: Keys) -> None:
        self.redis, self.keys = redis_client, keys

    async def make_store(self, retention_us: int) -> LedgerStore:
        return RedisLedgerStore(self.redis, keys=self.keys, retention_us=retention_us)


@pytest.mark.redis_cluster
class TestRedisClusterLedgerRules(TestRedisLedgerRules):
    @pytest.fixture(autouse=True)
    def _redis(self, redis_cluster_client: RedisCluster, keys: Keys) -> None:
        self.redis, self.keys = redis_cluster_client, keys  # type: ignore[assignment]


def test_the_cases_use_the_shard_count_both_stores_default_to() -> None:
    assert MemoryLedgerStore().shards == DEFAULT_SHARDS == Keys("any").shards
