"""Worked examples of every ledger rule in DESIGN.md section 3, arithmetic in the comments.

Times are seconds after T0 (`t=`); every example folds one SKU with SkuLedger.
"""

from __future__ import annotations

import pytest
from tests.unit.domain.ledger_events import (
    DC,
    SKU,
    STORE,
    adjustment,
    at,
    cycle_count,
    hold_extended,
    hold_placed,
    inbound_expected,
    order_cancelled,
    order_placed,
    pick,
    receipt,
    transfer_received,
    transfer_shipped,
)

from stockline.domain.effects import day_of
from stockline.domain.events import AdjustmentReason, Event, LostSale
from stockline.domain.ledger import (
    NodeStock,
    Outcome,
    SkuLedger,
    SkuTotals,
    hold_node,
    next_version,
    sku_totals,
)


def fold(*events: Event) -> dict[str, NodeStock]:
    """Apply the events in the order given; every one must be new."""
    ledger = SkuLedger(SKU)
    assert [ledger.apply(e) for e in events] == [Outcome.APPLIED] * len(events)
    return ledger.stock()


class TestDeltas:
    def test_a_receipt_adds_its_qty_to_on_hand(self) -> None:
        # 0 + 10 = 10
        assert fold(receipt(10)) == {DC: NodeStock(on_hand=10)}

    def test_a_pick_takes_its_qty_from_on_hand(self) -> None:
        # 10 - 3 = 7
        assert fold(receipt(10), pick(3)) == {DC: NodeStock(on_hand=7)}

    def test_an_adjustment_adds_its_signed_delta(self) -> None:
        damaged = adjustment(-4, AdjustmentReason.DAMAGED)
        found = adjustment(2, AdjustmentReason.FOUND)
        # 10 - 4 + 2 = 8
        assert fold(receipt(10), damaged, found) == {DC: NodeStock(on_hand=8)}

    def test_deltas_move_only_their_own_node(self) -> None:
        # dc: 0 + 10 = 10; store: 0 - 3 = -3
        assert fold(receipt(10), pick(3, node=STORE)) == {
            DC: NodeStock(on_hand=10),
            STORE: NodeStock(on_hand=-3),
        }


class TestCycleCounts:
    def test_a_count_rebases_on_hand_over_earlier_deltas(self) -> None:
        # the receipt (t=1) and pick (t=2) are inside the count at t=5: on_hand = 4
        assert fold(receipt(10, t=1), pick(3, t=2), cycle_count(4, t=5)) == {
            DC: NodeStock(on_hand=4)
        }

    def test_deltas_after_the_count_move_on_hand_whenever_they_arrive(self) -> None:
        late_first = fold(receipt(3, t=6), pick(1, t=7), cycle_count(4, t=5))
        count_first = fold(cycle_count(4, t=5), receipt(3, t=6), pick(1, t=7))
        # 4 + 3 - 1 = 6
        assert late_first == count_first == {DC: NodeStock(on_hand=6)}

    def test_a_delta_at_the_counts_instant_is_inside_the_count(self) -> None:
        # pick at t=5 == count at t=5: already counted, on_hand = 4
        assert fold(cycle_count(4, t=5), pick(1, t=5)) == {DC: NodeStock(on_hand=4)}

    def test_a_delta_from_before_the_count_arriving_after_it_is_ignored(self) -> None:
        # the receipt at t=3 happened before the count at t=5: on_hand = 4, not 4 + 10
        assert fold(cycle_count(4, t=5), receipt(10, t=3)) == {DC: NodeStock(on_hand=4)}

    def test_an_older_count_arriving_late_is_ignored(self) -> None:
        # latest count is t=5 (4); the count at t=2 (9) is older; +3 at t=6 counts: 4 + 3 = 7
        stock = fold(cycle_count(4, t=5), receipt(3, t=6), cycle_count(9, t=2))
        assert stock == {DC: NodeStock(on_hand=7)}

    def test_a_newer_count_keeps_only_the_deltas_after_it(self) -> None:
        events = (cycle_count(4, t=1), receipt(3, t=2), pick(1, t=4))
        # before the new count: 4 + 3 - 1 = 6
        assert fold(*events) == {DC: NodeStock(on_hand=6)}
        # count at t=3 (10) swallows the receipt at t=2, keeps the pick at t=4: 10 - 1 = 9
        assert fold(*events, cycle_count(10, t=3)) == {DC: NodeStock(on_hand=9)}

    @pytest.mark.parametrize("order", [(0, 1), (1, 0)], ids=["a-first", "b-first"])
    def test_counts_at_the_same_instant_are_won_by_the_larger_event_id(
        self, order: tuple[int, int]
    ) -> None:
        counts = [cycle_count(4, t=5, event_id="count-a"), cycle_count(9, t=5, event_id="count-b")]
        # same occurred_at; "count-b" > "count-a", so on_hand = 9 in either arrival order
        assert fold(*(counts[i] for i in order)) == {DC: NodeStock(on_hand=9)}

    def test_event_ids_compare_as_strings_not_numbers(self) -> None:
        nine, ten = cycle_count(9, t=5, event_id="c-9"), cycle_count(10, t=5, event_id="c-10")
        # "c-9" > "c-10" as strings ("9" > "1"), so the count of 9 wins the tie
        assert fold(nine, ten) == fold(ten, nine) == {DC: NodeStock(on_hand=9)}

    def test_a_count_can_rebase_to_zero(self) -> None:
        # 7 counted away to 0; a later receipt of 2: 0 + 2 = 2
        assert fold(receipt(7, t=1), cycle_count(0, t=2), receipt(2, t=3)) == {
            DC: NodeStock(on_hand=2)
        }


class TestOrderLines:
    def test_a_placed_line_reserves_its_qty(self) -> None:
        # reserved = max(0, 5 - 0) = 5
        assert fold(order_placed(5, "o1")) == {DC: NodeStock(reserved=5)}

    def test_a_partial_pick_consumes_part_of_the_reservation(self) -> None:
        # on_hand = 10 - 2 = 8; reserved = max(0, 5 - 2) = 3
        stock = fold(receipt(10), order_placed(5, "o1"), pick(2, order_id="o1"))
        assert stock == {DC: NodeStock(on_hand=8, reserved=3)}

    def test_placed_and_picked_sum_over_the_lines_events(self) -> None:
        placed = (order_placed(5, "o1"), order_placed(3, "o1"))
        picked = (pick(2, order_id="o1"), pick(1, order_id="o1"))
        # reserved = max(0, (5 + 3) - (2 + 1)) = 5; on_hand = -2 - 1 = -3
        assert fold(*placed, *picked) == {DC: NodeStock(on_hand=-3, reserved=5)}

    def test_picking_beyond_the_placed_qty_floors_reserved_at_zero(self) -> None:
        # reserved = max(0, 5 - 7) = 0; on_hand = 10 - 7 = 3
        stock = fold(receipt(10), order_placed(5, "o1"), pick(7, order_id="o1"))
        assert stock == {DC: NodeStock(on_hand=3, reserved=0)}

    def test_a_cancel_releases_what_is_left_of_the_reservation(self) -> None:
        # 5 placed, 2 picked, then cancelled: reserved = 0; on_hand = 10 - 2 = 8
        events = (receipt(10), order_placed(5, "o1"), pick(2, order_id="o1"))
        assert fold(*events, order_cancelled("o1")) == {DC: NodeStock(on_hand=8, reserved=0)}

    def test_a_cancel_is_final(self) -> None:
        # a placement after the cancel does not reopen the line: reserved = 0
        stock = fold(order_placed(5, "o1"), order_cancelled("o1"), order_placed(4, "o1"))
        assert stock == {DC: NodeStock(reserved=0)}

    def test_a_pick_before_its_placement_is_remembered(self) -> None:
        # reserved = max(0, 5 - 2) = 3, as if the pick had come after the placement
        stock = fold(pick(2, order_id="o1"), order_placed(5, "o1"))
        assert stock == {DC: NodeStock(on_hand=-2, reserved=3)}

    def test_a_cancel_before_its_placement_is_remembered(self) -> None:
        # cancelled first, so the late placement reserves nothing: reserved = 0
        assert fold(order_cancelled("o1"), order_placed(5, "o1")) == {DC: NodeStock(reserved=0)}

    def test_lines_of_different_orders_are_separate(self) -> None:
        events = (order_placed(5, "o1"), order_placed(3, "o2"), pick(4, order_id="o2"))
        # o1: 5; o2: max(0, 3 - 4) = 0; reserved = 5 + 0 = 5
        assert fold(*events, order_cancelled("o3")) == {DC: NodeStock(on_hand=-4, reserved=5)}

    def test_a_line_is_per_node(self) -> None:
        # the pick of o1 at the store does not consume o1's reservation at the dc
        stock = fold(order_placed(5, "o1"), pick(2, node=STORE, order_id="o1"))
        assert stock == {DC: NodeStock(reserved=5), STORE: NodeStock(on_hand=-2)}

    def test_a_pick_without_order_id_consumes_no_reservation(self) -> None:
        # on_hand = 10 - 2 = 8; reserved stays 5
        assert fold(receipt(10), order_placed(5, "o1"), pick(2)) == {
            DC: NodeStock(on_hand=8, reserved=5)
        }


class TestAsnInbound:
    def test_an_asn_adds_inbound(self) -> None:
        # inbound = max(0, 10 - 0) = 10
        assert fold(inbound_expected(10, "asn-1")) == {DC: NodeStock(inbound=10)}

    def test_a_receipt_against_the_asn_consumes_its_inbound(self) -> None:
        # on_hand = 4; inbound = max(0, 10 - 4) = 6
        stock = fold(inbound_expected(10, "asn-1"), receipt(4, asn_id="asn-1"))
        assert stock == {DC: NodeStock(on_hand=4, inbound=6)}

    def test_a_receipt_before_its_asn_is_remembered(self) -> None:
        # same sums in the other order: on_hand = 4; inbound = max(0, 10 - 4) = 6
        stock = fold(receipt(4, asn_id="asn-1"), inbound_expected(10, "asn-1"))
        assert stock == {DC: NodeStock(on_hand=4, inbound=6)}

    def test_receiving_more_than_expected_floors_inbound_at_zero(self) -> None:
        # on_hand = 12; inbound = max(0, 10 - 12) = 0
        stock = fold(inbound_expected(10, "asn-1"), receipt(12, asn_id="asn-1"))
        assert stock == {DC: NodeStock(on_hand=12, inbound=0)}

    def test_a_receipt_consumes_only_its_own_asn(self) -> None:
        events = (inbound_expected(10, "asn-1"), receipt(4, asn_id="asn-2"), receipt(1))
        # asn-1 still 10 in transit; on_hand = 4 + 1 = 5
        assert fold(*events) == {DC: NodeStock(on_hand=5, inbound=10)}


class TestTransfers:
    def test_a_shipment_leaves_the_origin_and_is_inbound_at_the_destination(self) -> None:
        shipped = transfer_shipped(4, "tr-1", to_node=STORE)
        # dc: 10 - 4 = 6; store: inbound 0 + 4 = 4
        assert fold(receipt(10), shipped) == {
            DC: NodeStock(on_hand=6),
            STORE: NodeStock(inbound=4),
        }

    @pytest.mark.parametrize("received_first", [False, True])
    def test_receiving_moves_the_transfer_from_inbound_to_on_hand(
        self, received_first: bool
    ) -> None:
        shipped = transfer_shipped(4, "tr-1", to_node=STORE)
        received = transfer_received(3, "tr-1", from_node=DC, node=STORE)
        events = (received, shipped) if received_first else (shipped, received)
        # dc: -4; store: on_hand 0 + 3 = 3, inbound max(0, 4 - 3) = 1
        assert fold(*events) == {
            DC: NodeStock(on_hand=-4),
            STORE: NodeStock(on_hand=3, inbound=1),
        }

    def test_an_asn_and_a_transfer_with_the_same_id_stay_apart(self) -> None:
        events = (
            inbound_expected(10, "x", node=STORE),
            transfer_shipped(4, "x", to_node=STORE),
            transfer_received(4, "x", from_node=DC, node=STORE),
        )
        # asn x: 10 in transit; transfer x: max(0, 4 - 4) = 0; store inbound = 10
        assert fold(*events)[STORE] == NodeStock(on_hand=4, inbound=10)


class TestAvailability:
    def test_on_hand_may_go_negative_and_atp_floors_at_zero(self) -> None:
        stock = fold(receipt(2), pick(5))[DC]
        # on_hand = 2 - 5 = -3; atp = max(0, -3 - 0 - 0) = 0; position = -3 + 0 - 0 = -3
        assert (stock.on_hand, stock.atp(), stock.position()) == (-3, 0, -3)

    def test_atp_and_position_of_a_folded_ledger(self) -> None:
        events = (receipt(10), order_placed(3, "o1"), inbound_expected(5, "asn-1"))
        stock = fold(*events)[DC]
        # atp = max(0, 10 - 3 - 0 - buffer 2) = 5; position = 10 + 5 - 3 - 0 = 12
        assert (stock.atp(buffer=2), stock.position()) == (5, 12)

    @pytest.mark.parametrize(
        ("stock", "buffer", "atp"),
        [
            (NodeStock(on_hand=10, reserved=3), 0, 7),  # 10 - 3 - 0 = 7
            (NodeStock(on_hand=10, reserved=3), 7, 0),  # 10 - 3 - 7 = 0
            (NodeStock(on_hand=10, reserved=3), 8, 0),  # max(0, 10 - 3 - 8 = -1) = 0
            (NodeStock(on_hand=2, reserved=5), 0, 0),  # max(0, 2 - 5 = -3) = 0
            (NodeStock(on_hand=10, inbound=50), 0, 10),  # inbound is not promisable
            (NodeStock(on_hand=10, reserved=3, held=4), 1, 2),  # 10 - 3 - 4 - 1 = 2
        ],
    )
    def test_atp(self, stock: NodeStock, buffer: int, atp: int) -> None:
        assert stock.atp(buffer) == atp

    def test_atp_without_a_buffer_promises_all_that_is_free(self) -> None:
        # 10 - 3 - 2 - 0 = 5
        assert NodeStock(on_hand=10, reserved=3, held=2).atp() == 5

    @pytest.mark.parametrize(
        ("stock", "position"),
        [
            (NodeStock(on_hand=10, reserved=3, inbound=5), 12),  # 10 + 5 - 3
            (NodeStock(on_hand=-3, reserved=4, inbound=0), -7),  # -3 + 0 - 4, not floored
            (NodeStock(on_hand=10, reserved=3, inbound=4, held=2), 9),  # 10 + 4 - 3 - 2
        ],
    )
    def test_position(self, stock: NodeStock, position: int) -> None:
        assert stock.position() == position


class TestHolds:
    def test_a_hold_keeps_the_latest_expiry_its_events_named(self) -> None:
        ledger = SkuLedger(SKU)
        ledger.apply(hold_placed(2, "r-1", expires=900))
        ledger.apply(hold_extended("r-1", expires=1800))
        ledger.apply(hold_extended("r-1", expires=1200))  # an older extension, late
        hold = ledger.nodes[DC].holds["r-1"]
        assert (hold.held, hold.expires_us) == (2, at(1800))
        assert ledger.stock() == {DC: NodeStock(held=2)}

    @pytest.mark.parametrize(
        ("candidates", "qty", "node"),
        [
            ((STORE, DC), 3, STORE),  # the caller's order: the store covers 3
            ((STORE, DC), 4, STORE),  # exactly its ATP
            ((STORE, DC), 5, DC),  # the store has 4 only
            ((DC, STORE), 3, DC),
            ((STORE, DC), 9, None),  # nobody covers 9
            (("store-9", DC), 1, DC),  # a node with no ATP known has none, not even 1
        ],
    )
    def test_a_hold_goes_to_the_first_candidate_that_covers_it(
        self, candidates: tuple[str, ...], qty: int, node: str | None
    ) -> None:
        assert hold_node(candidates, {STORE: 4, DC: 8}, qty) == node


class TestDemand:
    def test_orders_and_picks_without_an_order_are_demand_per_node_and_day(self) -> None:
        day = day_of(at(0))
        ledger = SkuLedger(SKU)
        for event in (
            order_placed(5, "o1", t=0),
            pick(3, t=60),  # no order: demand
            pick(2, t=120, order_id="o1"),  # o1 was counted when placed
            receipt(9, t=0, node=STORE),  # stock movement, no demand
            order_placed(4, "o2", t=86_400),  # the next day
            LostSale("ls-1", at(0), "oms", STORE, SKU, qty=6, reason="out_of_stock"),
        ):
            ledger.apply(event)
        # dc day 0: 5 + 3 = 8, day 1: 4; store day 0: 6 lost
        assert ledger.demand() == {DC: {day: 8, day + 1: 4}, STORE: {day: 6}}

    def test_the_event_clock_is_the_latest_occurred_at(self) -> None:
        ledger = SkuLedger(SKU)
        ledger.apply(receipt(1, t=50))
        ledger.apply(pick(1, t=10))  # arrives later, occurred earlier
        assert ledger.latest_us == at(50)


def test_sku_totals_sum_node_atp_over_the_network_and_per_channel() -> None:
    channels = {DC: ("web",), STORE: ("web", "store-pickup"), "store-9": ()}
    totals = sku_totals({DC: 7, STORE: 3, "store-9": 2}, lambda node: channels[node])
    # network 7 + 3 + 2 = 12; web 7 + 3 = 10; store-pickup 3; channels in name order
    assert totals == SkuTotals(12, {"store-pickup": 3, "web": 10})
    assert list(totals.channels) == ["store-pickup", "web"]


SCENARIO: tuple[Event, ...] = (
    receipt(10, t=1, asn_id="asn-1"),
    pick(2, t=2, order_id="o1"),
    adjustment(-1, AdjustmentReason.SHRINK, t=3),
    cycle_count(20, t=4),
    receipt(5, t=5),
    order_placed(6, "o1", t=1),
    order_cancelled("o2", t=1),
    order_placed(4, "o2", t=1),
    inbound_expected(30, "asn-1", t=0),
    transfer_shipped(3, "tr-1", to_node=STORE, t=6),
    transfer_received(2, "tr-2", from_node=STORE, t=6),
)


class TestDuplicates:
    def test_the_scenario_folds_to_the_expected_stock(self) -> None:
        # dc on_hand = 20 (count at t=4) + 5 (t=5) - 3 (t=6) + 2 (t=6) = 24
        # reserved: o1 max(0, 6 - 2) = 4; o2 cancelled = 0; inbound: asn-1 max(0, 30 - 10) = 20
        # transfer tr-2 was never shipped here: max(0, 0 - 2) = 0; store: tr-1 inbound 3
        assert fold(*SCENARIO) == {
            DC: NodeStock(on_hand=24, reserved=4, inbound=20),
            STORE: NodeStock(inbound=3),
        }

    @pytest.mark.parametrize("event", SCENARIO, ids=lambda e: type(e).__name__)
    def test_a_duplicate_changes_nothing(self, event: Event) -> None:
        ledger = SkuLedger(SKU)
        for e in SCENARIO:
            ledger.apply(e)
        before = ledger.stock()
        assert ledger.apply(event) is Outcome.DUPLICATE
        assert ledger.stock() == before

    def test_the_same_event_id_is_a_duplicate_even_with_other_content(self) -> None:
        ledger = SkuLedger(SKU)
        ledger.apply(receipt(10, event_id="e-1"))
        # the idempotency key alone decides: the redelivered "pick" is not applied
        assert ledger.apply(pick(3, event_id="e-1")) is Outcome.DUPLICATE
        assert ledger.stock() == {DC: NodeStock(on_hand=10)}


@pytest.mark.parametrize(
    ("version", "batch_us", "after"),
    [
        (0, 1_795_000_000_000_000, 1_795_000_000_000_000),  # the batch's time
        (1_795_000_000_000_000, 1_795_000_000_000_000, 1_795_000_000_000_001),  # same µs
        (1_795_000_000_000_900, 1_795_000_000_000_000, 1_795_000_000_000_901),  # clock behind
    ],
)
def test_the_version_after_a_changing_batch(version: int, batch_us: int, after: int) -> None:
    assert next_version(version, batch_us) == after
