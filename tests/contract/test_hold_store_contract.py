"""The HoldStore contract (the reservation API's atomic steps): the same cases on the
in-memory store, on Redis and on a Redis Cluster.

A decision is applied as its `hold_placed` event would be, ahead of Kafka and without
publishing; the worker's apply of that event is then a duplicate that publishes the node.
"""

from __future__ import annotations

from typing import Protocol

import pytest
from redis.asyncio import Redis, RedisCluster
from tests.contract.test_ledger_store_contract import (
    NOW_US,
    RETENTION_US,
    TERMS,
    delivery,
)
from tests.unit.domain.ledger_events import (
    DC,
    SKU,
    STORE,
    at,
    hold_extended,
    hold_placed,
    hold_released,
    order_placed,
    pick,
    receipt,
)

from stockline.adapters.memory import MemoryLedgerStore
from stockline.adapters.redis.keys import Keys
from stockline.adapters.redis.store import RedisLedgerStore
from stockline.domain.events import HoldPlaced, HoldReleaseReason
from stockline.domain.ledger import NodeStock, Outcome
from stockline.service_layer.ports import DueHold, HoldRequest, HoldStore, LedgerStore

HUB = "hub-3"


class Store(LedgerStore, HoldStore, Protocol):
    """What the cases use: both ports of one store."""


def request(
    qty: int,
    *candidates: str,
    rid: str = "rsv-1",
    event_id: str | None = None,
    expires: int = 900,
) -> HoldRequest:
    return HoldRequest(
        event_id=event_id or f"{rid}#0.{qty}",
        reservation_id=rid,
        qty=qty,
        candidates=candidates,
        expires_us=at(expires),
        occurred_us=at(10),
        source="stockline-api",
    )


class HoldStoreContract:
    """Cases every HoldStore passes. Not collected itself: its subclasses are."""

    async def make_store(self) -> Store:
        raise NotImplementedError

    async def stocked(self, **units: int) -> Store:
        """A store where each node named (dc, store, hub) got a receipt of that many units."""
        store = await self.make_store()
        nodes = {"dc": DC, "store": STORE, "hub": HUB}
        batch = [
            delivery(receipt(qty, node=nodes[name], event_id=f"in-{name}"), n)
            for n, (name, qty) in enumerate(units.items())
        ]
        await store.apply(batch, NOW_US, TERMS)
        return store

    async def test_a_hold_goes_to_the_first_candidate_whose_atp_covers_it(self) -> None:
        store = await self.stocked(dc=10, store=3, hub=8)
        decision = await store.hold(SKU, request(5, STORE, HUB, DC), NOW_US)
        assert decision.placed is not None
        assert (decision.placed.node_id, decision.placed.qty) == (HUB, 5)
        # the store's buffer of 2 (TERMS) counts: 3 on hand, 1 promisable
        assert decision.atp == {STORE: 1, HUB: 8, DC: 10}
        assert not decision.replayed
        snapshot = await store.snapshot(SKU)
        assert snapshot is not None
        assert snapshot.nodes[HUB] == NodeStock(on_hand=8, held=5)

    async def test_holds_never_promise_a_unit_twice(self) -> None:
        store = await self.stocked(dc=3)
        decisions = [
            await store.hold(SKU, request(1, DC, rid=f"rsv-{n}"), NOW_US) for n in range(5)
        ]
        assert [d.placed is not None for d in decisions] == [True, True, True, False, False]
        assert [d.atp[DC] for d in decisions] == [3, 2, 1, 0, 0]

    async def test_a_refused_line_changes_nothing_and_is_not_remembered(self) -> None:
        store = await self.stocked(dc=2)
        refused = await store.hold(SKU, request(3, DC, STORE), NOW_US)
        assert (refused.placed, refused.atp) == (None, {DC: 2, STORE: 0})
        await store.apply([delivery(receipt(5, event_id="more"), 9)], NOW_US, TERMS)
        again = await store.hold(SKU, request(3, DC, STORE), NOW_US)
        assert again.placed is not None
        assert again.placed.node_id == DC
        assert not again.replayed

    async def test_an_unknown_sku_or_node_has_no_atp(self) -> None:
        store = await self.stocked(dc=5)
        unknown = await store.hold("SKU-404", request(1, DC), NOW_US)
        assert (unknown.placed, unknown.atp) == (None, {DC: 0})
        assert await store.snapshot("SKU-404") is None
        nowhere = await store.hold(SKU, request(1, "dc-404"), NOW_US)
        assert (nowhere.placed, nowhere.atp) == (None, {"dc-404": 0})

    async def test_a_decision_taken_again_answers_the_same_and_changes_nothing(self) -> None:
        store = await self.stocked(dc=5)
        first = await store.hold(SKU, request(2, STORE, DC, event_id="e-1"), NOW_US)
        again = await store.hold(SKU, request(2, STORE, DC, event_id="e-1"), NOW_US)
        assert again.replayed
        assert again.placed == first.placed
        snapshot = await store.snapshot(SKU)
        assert snapshot is not None
        assert snapshot.nodes[DC].held == 2

    async def test_the_workers_apply_of_a_decision_publishes_it(self) -> None:
        store = await self.stocked(dc=10)
        decision = await store.hold(SKU, request(4, DC), NOW_US)
        assert decision.placed is not None
        # nothing was published yet: the kept totals still show all 10
        totals = await store.totals(SKU)
        assert totals is not None
        assert totals.network_atp == 10
        result = await store.apply([delivery(decision.placed, 0)], NOW_US + 1, TERMS)
        assert result.outcomes == [Outcome.DUPLICATE]
        (change,) = result.changes
        assert [(n.node_id, n.stock, n.atp) for n in change.nodes] == [
            (DC, NodeStock(on_hand=10, held=4), 6)
        ]
        assert change.totals is not None
        assert change.totals.network_atp == 6
        # and only once
        again = await store.apply([delivery(decision.placed, 1)], NOW_US + 2, TERMS)
        assert again.changes == []

    async def test_a_hold_applied_from_kafka_alone_holds_and_publishes(self) -> None:
        """A ledger that lost the API's step (or a rebuild) gets the hold from the topic."""
        store = await self.stocked(dc=10)
        event = hold_placed(3, "rsv-9", event_id="h-9")
        result = await store.apply([delivery(event, 0)], NOW_US, TERMS)
        assert result.outcomes == [Outcome.APPLIED]
        assert [(n.stock, n.atp) for n in result.changes[0].nodes] == [
            (NodeStock(on_hand=10, held=3), 7)
        ]

    async def test_a_pre_applied_release_frees_the_units_at_once(self) -> None:
        store = await self.stocked(dc=5)
        decision = await store.hold(SKU, request(5, DC), NOW_US)
        assert decision.placed is not None
        release = hold_released("rsv-1", event_id="rel-1")
        assert await store.pre_apply([release], NOW_US) == [Outcome.APPLIED]
        assert await store.pre_apply([release], NOW_US) == [Outcome.DUPLICATE]
        after = await store.hold(SKU, request(5, DC, rid="rsv-2"), NOW_US)
        assert after.placed is not None
        assert after.atp == {DC: 5}

    async def test_a_release_before_its_hold_leaves_the_late_hold_holding_nothing(
        self,
    ) -> None:
        store = await self.stocked(dc=5)
        await store.pre_apply([hold_released("rsv-1", event_id="rel-1")], NOW_US)
        await store.apply([delivery(hold_placed(4, "rsv-1"), 0)], NOW_US, TERMS)
        snapshot = await store.snapshot(SKU)
        assert snapshot is not None
        assert snapshot.nodes[DC].held == 0
        assert await store.due_holds(at(10**6)) == []

    async def test_due_holds_are_the_open_ones_past_their_expiry_earliest_first(self) -> None:
        store = await self.stocked(dc=20, store=20)
        await store.hold(SKU, request(1, DC, rid="late", expires=300), NOW_US)
        await store.hold(SKU, request(1, STORE, rid="early", expires=100), NOW_US)
        await store.hold(SKU, request(1, DC, rid="gone", expires=50), NOW_US)
        await store.hold(SKU, request(1, DC, rid="bought", expires=60), NOW_US)
        await store.hold(SKU, request(1, DC, rid="kept", expires=120), NOW_US)
        await store.pre_apply(
            [
                hold_released("gone", HoldReleaseReason.EXPIRED, event_id="x-gone"),
                hold_extended("kept", expires=600, event_id="x-kept"),
            ],
            NOW_US,
        )
        committed = order_placed(1, "o-1", reservation_id="bought", event_id="o-1")
        await store.apply([delivery(committed, 0)], NOW_US, TERMS)
        assert await store.due_holds(at(99)) == []
        assert await store.due_holds(at(400)) == [
            DueHold(SKU, STORE, "early", at(100)),
            DueHold(SKU, DC, "late", at(300)),
        ]
        assert await store.due_holds(at(400), limit=1) == [DueHold(SKU, STORE, "early", at(100))]

    async def test_a_commit_turns_the_hold_into_a_reservation(self) -> None:
        store = await self.stocked(dc=10)
        decision = await store.hold(SKU, request(4, DC), NOW_US)
        assert isinstance(decision.placed, HoldPlaced)
        commit = order_placed(4, "o-7", reservation_id="rsv-1", event_id="o-7")
        await store.apply(
            [
                delivery(decision.placed, 0),
                delivery(commit, 0),
                delivery(pick(4, order_id="o-7"), 1),
            ],
            NOW_US,
            TERMS,
        )
        snapshot = await store.snapshot(SKU)
        assert snapshot is not None
        assert snapshot.nodes[DC] == NodeStock(on_hand=6)


class TestMemoryHoldStore(HoldStoreContract):
    async def make_store(self) -> Store:
        return MemoryLedgerStore()


@pytest.mark.redis
class TestRedisHoldStore(HoldStoreContract):
    @pytest.fixture(autouse=True)
    def _redis(self, redis_client: Redis, keys: Keys) -> None:
        self.redis, self.keys = redis_client, keys

    async def make_store(self) -> Store:
        return RedisLedgerStore(self.redis, keys=self.keys, retention_us=RETENTION_US)


@pytest.mark.redis_cluster
class TestRedisClusterHoldStore(TestRedisHoldStore):
    @pytest.fixture(autouse=True)
    def _redis(self, redis_cluster_client: RedisCluster, keys: Keys) -> None:
        self.redis, self.keys = redis_cluster_client, keys  # type: ignore[assignment]
