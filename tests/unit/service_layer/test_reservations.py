"""The reservation use cases and the expiry sweep on in-memory ports (no mocks)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from stockline.adapters.memory import MemoryLedgerStore
from stockline.adapters.memory_reservations import (
    ListHoldLog,
    MemoryLease,
    MemoryReservationRecords,
)
from stockline.contracts.api import ReservationRequest
from stockline.domain.events import HoldPlaced, HoldReleased, HoldReleaseReason, Receipt
from stockline.service_layer.expiry import HoldExpiry, expiry_id
from stockline.service_layer.ports import Delivery, DueHold
from stockline.service_layer.reservation_ports import Outcome
from stockline.service_layer.reservations import (
    Closed,
    Conflict,
    InProgress,
    NotFound,
    Reservations,
)

T0 = 1_795_000_000_000_000
S = 1_000_000


@dataclass
class Clock:
    now: int = T0

    def __call__(self) -> int:
        return self.now


@dataclass
class World:
    store: MemoryLedgerStore = field(default_factory=MemoryLedgerStore)
    log: ListHoldLog = field(default_factory=ListHoldLog)
    records: MemoryReservationRecords = field(default_factory=MemoryReservationRecords)
    clock: Clock = field(default_factory=Clock)
    outcomes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.api = Reservations(
            self.store, self.log, self.records, clock=self.clock, on_outcome=self.outcomes.append
        )
        self.api.wait_s = 0.2

    async def receive(self, sku: str, node: str, qty: int) -> None:
        event = Receipt(f"r-{sku}-{node}", T0 - S, "wms", node, sku, qty=qty)
        await self.store.apply([Delivery(event, "seed", 0, len(self.store.ledgers))], T0)

    def held(self, sku: str, node: str) -> int:
        ledger = self.store.ledgers.get(sku)
        stock = ledger.stock().get(node) if ledger is not None else None
        return 0 if stock is None else stock.held

    def sweeper(self) -> HoldExpiry:
        return HoldExpiry(self.store, self.log, self.records, MemoryLease(), clock=self.clock)


def body(rid: str = "R-1", *lines: dict[str, Any], **extra: Any) -> ReservationRequest:
    default = ({"sku": "SKU-A", "qty": 3, "nodes": ["DC-1", "STORE-1"]},)
    return ReservationRequest.model_validate(
        {"reservation_id": rid, "lines": list(lines or default), **extra}
    )


@pytest.fixture
async def world() -> World:
    w = World()
    await w.receive("SKU-A", "DC-1", 2)
    await w.receive("SKU-A", "STORE-1", 5)
    await w.receive("SKU-B", "DC-1", 1)
    return w


async def test_a_line_is_held_at_the_first_candidate_that_covers_it(world: World) -> None:
    answer = await world.api.place(body())
    assert answer.outcome is Outcome.HELD
    got = json.loads(answer.body)
    assert [(line["node_id"], line["qty"]) for line in got["lines"]] == [("STORE-1", 3)]
    assert got["expires_at"] == got["lines"][0]["expires_at"] == "2026-11-18T11:21:40Z"
    assert (world.held("SKU-A", "STORE-1"), world.held("SKU-A", "DC-1")) == (3, 0)
    assert [type(e) for e in world.log.events] == [HoldPlaced]
    assert world.log.events[0].event_id == "R-1#1.0"
    assert world.outcomes == ["held"]


async def test_the_same_request_again_answers_the_same_and_changes_nothing(world: World) -> None:
    first = await world.api.place(body())
    world.clock.now += 5 * S
    again = await world.api.place(body(ttl_seconds=900))  # the default, spelled out
    assert (again.body, again.replayed) == (first.body, True)
    assert world.held("SKU-A", "STORE-1") == 3
    assert len(world.log.events) == 1
    assert world.outcomes == ["held", "replayed"]


async def test_another_body_under_the_same_id_is_a_conflict(world: World) -> None:
    await world.api.place(body())
    with pytest.raises(Conflict):
        await world.api.place(body("R-1", {"sku": "SKU-A", "qty": 4, "node_id": "STORE-1"}))
    assert world.held("SKU-A", "STORE-1") == 3


async def test_a_twin_still_deciding_is_waited_for_then_in_progress(world: World) -> None:
    request = body()
    from stockline.service_layer.reservations import digest_of

    await world.records.claim("R-1", digest_of(request), T0, T0 + 10 * S)
    with pytest.raises(InProgress):
        await world.api.place(request)
    world.clock.now += 11 * S  # the claimant died: its claim is taken over
    assert (await world.api.place(request)).outcome is Outcome.HELD


async def test_refused_lines_name_each_candidates_atp(world: World) -> None:
    answer = await world.api.place(body("R-2", {"sku": "SKU-A", "qty": 6, "nodes": ["DC-1", "X"]}))
    assert answer.outcome is Outcome.INSUFFICIENT_STOCK
    got = json.loads(answer.body)
    assert got["error"] == "insufficient_stock"
    assert got["lines"] == [{"line": 0, "sku": "SKU-A", "qty": 6, "atp": {"DC-1": 2, "X": 0}}]
    assert world.log.events == []
    again = await world.api.place(body("R-2", {"sku": "SKU-A", "qty": 6, "nodes": ["DC-1", "X"]}))
    assert again.body == answer.body


async def test_all_or_nothing_releases_the_lines_it_held(world: World) -> None:
    lines = (
        {"sku": "SKU-A", "qty": 2, "node_id": "DC-1"},
        {"sku": "SKU-B", "qty": 2, "node_id": "DC-1"},
    )
    answer = await world.api.place(body("R-3", *lines))
    assert answer.outcome is Outcome.INSUFFICIENT_STOCK
    assert [line["line"] for line in json.loads(answer.body)["lines"]] == [1]
    assert world.held("SKU-A", "DC-1") == 0
    released = [e for e in world.log.events if isinstance(e, HoldReleased)]
    assert [e.event_id for e in released] == ["R-3#1.0|released"]


async def test_without_all_or_nothing_what_can_be_held_is_held(world: World) -> None:
    lines = (
        {"sku": "SKU-A", "qty": 2, "node_id": "DC-1"},
        {"sku": "SKU-B", "qty": 2, "node_id": "DC-1"},
    )
    answer = await world.api.place(body("R-4", *lines, all_or_nothing=False))
    got = json.loads(answer.body)
    assert answer.outcome is Outcome.HELD
    assert [line["sku"] for line in got["lines"]] == ["SKU-A"]
    assert [line["line"] for line in got["refused"]] == [1]
    assert world.held("SKU-A", "DC-1") == 2


async def test_a_log_that_fails_undoes_the_holds(world: World) -> None:
    world.log.down = True
    answer = await world.api.place(body())
    assert answer.outcome is Outcome.UNAVAILABLE
    assert json.loads(answer.body)["error"] == "unavailable"
    assert world.held("SKU-A", "STORE-1") == 0
    assert world.outcomes == ["unavailable"]


async def test_a_retry_after_a_failed_log_answers_the_same_and_holds_nothing(
    world: World,
) -> None:
    """A released hold (reservation, node, sku) holds nothing again: a retry under the same
    id must not be answered 201, so it is answered what the first attempt was."""
    world.log.down = True
    first = await world.api.place(body())
    world.log.down = False
    again = await world.api.place(body())
    assert (again.outcome, again.body, again.replayed) == (first.outcome, first.body, True)
    assert world.held("SKU-A", "STORE-1") == 0
    fresh = await world.api.place(body("R-2"))
    assert fresh.outcome is Outcome.HELD
    assert world.held("SKU-A", "STORE-1") == 3


async def test_get_extend_and_release(world: World) -> None:
    await world.api.place(body(ttl_seconds=60))
    assert (await world.api.get("R-1")).status == "held"
    world.clock.now += 30 * S
    extended = await world.api.extend("R-1", 600)
    assert extended.expires_at == "2026-11-18T11:17:10Z"
    assert extended.lines[0].expires_at == extended.expires_at
    assert world.log.events[-1].event_id == "R-1#1.0+1"
    released = await world.api.release("R-1")
    assert released.status == "released"
    assert world.held("SKU-A", "STORE-1") == 0
    # the release's id is the placement's: a release retried after a crash is a duplicate
    assert world.log.events[-1].event_id == "R-1#1.0|released"
    assert (await world.api.release("R-1")).status == "released"  # idempotent
    with pytest.raises(Closed):
        await world.api.extend("R-1", 60)
    assert world.outcomes == ["held", "extended", "released"]


async def test_unknown_and_refused_reservations_are_not_found(world: World) -> None:
    with pytest.raises(NotFound):
        await world.api.get("NOPE")
    await world.api.place(body("R-5", {"sku": "SKU-B", "qty": 9, "node_id": "DC-1"}))
    with pytest.raises(NotFound):
        await world.api.release("R-5")


async def test_the_sweep_releases_due_holds_once_with_deterministic_ids(world: World) -> None:
    await world.api.place(body(ttl_seconds=1))
    sweeper = world.sweeper()
    assert await sweeper.sweep() == 0
    world.clock.now += 1 * S
    assert await sweeper.sweep() == 1
    assert await sweeper.sweep() == 0
    expired = world.log.events[-1]
    assert isinstance(expired, HoldReleased)
    assert expired.reason is HoldReleaseReason.EXPIRED
    assert expired.event_id == "R-1|STORE-1|SKU-A|expired"
    assert world.held("SKU-A", "STORE-1") == 0
    assert (await world.api.get("R-1")).status == "expired"
    with pytest.raises(Closed):
        await world.api.extend("R-1", 60)


async def test_the_sweep_reports_holds_late_by_more_than_two_seconds(world: World) -> None:
    await world.api.place(body(ttl_seconds=1))
    seen: list[tuple[int, int]] = []
    sweeper = world.sweeper()
    sweeper.on_sweep = lambda late, released: seen.append((late, released))
    world.clock.now += 4 * S
    await sweeper.sweep()
    assert seen == [(1, 1)]


async def test_without_the_lease_a_process_only_counts_late_holds(world: World) -> None:
    await world.api.place(body(ttl_seconds=1))
    seen: list[tuple[int, int]] = []
    sweeper = HoldExpiry(
        world.store, world.log, world.records, MemoryLease(held=False), clock=world.clock,
        on_sweep=lambda late, released: seen.append((late, released)), check_every=2,
    )  # fmt: skip
    world.clock.now += 4 * S
    assert [await sweeper.sweep() for _ in range(2)] == [0, 0]
    assert seen == [(1, 0)]
    assert world.held("SKU-A", "STORE-1") == 3


def test_a_long_expiry_id_is_a_digest_within_128_characters() -> None:
    hold = DueHold("S" * 64, "N" * 64, "R" * 64, T0)
    assert len(expiry_id(hold)) <= 128
    assert expiry_id(hold) == expiry_id(DueHold("S" * 64, "N" * 64, "R" * 64, T0 + 1))
