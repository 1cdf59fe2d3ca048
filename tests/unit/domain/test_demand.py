"""Demand buckets and the exponentially weighted estimate (DESIGN.md section 5), with the
arithmetic of each worked example in the comments. Days are UTC day numbers."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stockline.domain.demand import DemandEstimate, daily_buckets, estimate
from stockline.domain.effects import US_PER_DAY
from stockline.domain.events import (
    InventoryEvent,
    LostSale,
    OrderCancelled,
    OrderPlaced,
    Pick,
    Receipt,
    TransferShipped,
)

DAY = 20_700  # 2026-09-03
SKU = "SKU-1"


def at(day: int, hour: int = 12) -> int:
    return day * US_PER_DAY + hour * 3_600_000_000


def placed(event_id: str, qty: int, day: int = DAY, node: str = "DC-1") -> OrderPlaced:
    return OrderPlaced(event_id, at(day), "oms", node, SKU, qty=qty, order_id=f"o-{event_id}")


def pick(event_id: str, qty: int, order_id: str | None = None, day: int = DAY) -> Pick:
    return Pick(event_id, at(day), "wms", "DC-1", SKU, qty=qty, order_id=order_id)


class TestBuckets:
    def test_orders_placed_count_on_the_day_they_occurred(self) -> None:
        events = [placed("e1", 3), placed("e2", 4), placed("e3", 5, day=DAY + 1)]
        # day DAY: 3 + 4 = 7; day DAY+1: 5
        assert daily_buckets(events) == {("DC-1", SKU): {DAY: 7, DAY + 1: 5}}

    def test_a_pick_without_an_order_id_is_demand(self) -> None:
        assert daily_buckets([pick("e1", 2)]) == {("DC-1", SKU): {DAY: 2}}

    def test_a_pick_of_an_order_line_is_not_counted_again(self) -> None:
        # the order's 6 are demand; its pick of the same 6 is not
        events: list[InventoryEvent] = [placed("e1", 6), pick("e2", 6, order_id="o-e1")]
        assert daily_buckets(events) == {("DC-1", SKU): {DAY: 6}}

    def test_a_cancellation_does_not_take_demand_back(self) -> None:
        events: list[InventoryEvent] = [
            placed("e1", 6),
            OrderCancelled("e2", at(DAY), "oms", "DC-1", SKU, "o-e1"),
        ]
        assert daily_buckets(events) == {("DC-1", SKU): {DAY: 6}}

    def test_stock_movements_are_not_demand(self) -> None:
        events: list[InventoryEvent] = [
            Receipt("e1", at(DAY), "wms", "DC-1", SKU, qty=50),
            TransferShipped("e2", at(DAY), "wms", "DC-1", SKU, qty=5, transfer_id="t", to_node="S"),
        ]
        assert daily_buckets(events) == {}

    def test_a_lost_sale_is_demand_at_its_node(self) -> None:
        # 3 placed and 4 refused for lack of stock: the customers asked for 7
        lost = LostSale("e2", at(DAY), "oms", "DC-1", SKU, qty=4, reason="out_of_stock")
        assert daily_buckets([placed("e1", 3), lost]) == {("DC-1", SKU): {DAY: 7}}

    def test_a_redelivered_event_counts_once(self) -> None:
        assert daily_buckets([placed("e1", 3), placed("e1", 3)]) == {("DC-1", SKU): {DAY: 3}}

    def test_events_after_a_redelivery_still_count(self) -> None:
        # e1 twice, then e2: 3 + 2 = 5
        events = [placed("e1", 3), placed("e1", 3), placed("e2", 2)]
        assert daily_buckets(events) == {("DC-1", SKU): {DAY: 5}}

    def test_nodes_have_their_own_buckets(self) -> None:
        events = [placed("e1", 3), placed("e2", 1, node="STORE-1")]
        assert daily_buckets(events) == {("DC-1", SKU): {DAY: 3}, ("STORE-1", SKU): {DAY: 1}}


class TestEstimate:
    def test_worked_example_with_a_missing_day(self) -> None:
        # window = the 3 complete days DAY-3, DAY-2, DAY-1 (today = DAY is open, left out)
        # DAY-3: x=10 starts it:        mean = 10,                  var = 0
        # DAY-2: x=0 (missing), δ=-10:  mean = 10 + 0.5·(-10) = 5,  var = 0.5·(0 + 0.5·100) = 25
        # DAY-1: x=20, δ=15:            mean = 5 + 0.5·15 = 12.5,   var = 0.5·(25 + 0.5·225) = 68.75
        buckets = {DAY - 3: 10, DAY - 1: 20, DAY: 99}
        assert estimate(buckets, DAY, alpha=0.5, horizon_days=3) == DemandEstimate(12.5, 68.75)

    def test_worked_example_with_a_small_alpha(self) -> None:
        # DAY-2: x=8 starts it: mean = 8, var = 0
        # DAY-1: x=4, δ=-4: mean = 8 + 0.25·(-4) = 7, var = 0.75·(0 + 0.25·16) = 3
        result = estimate({DAY - 2: 8, DAY - 1: 4}, DAY, alpha=0.25, horizon_days=2)
        assert result == DemandEstimate(7.0, 3.0)
        assert result.sigma_daily == pytest.approx(1.7320508)  # √3

    def test_steady_demand_has_no_variance(self) -> None:
        buckets = dict.fromkeys(range(DAY - 30, DAY), 5)
        assert estimate(buckets, DAY, alpha=0.1, horizon_days=28) == DemandEstimate(5.0, 0.0)

    def test_days_outside_the_window_are_ignored(self) -> None:
        # DAY-10 is older than the 7-day window; DAY and DAY+1 are not complete yet
        buckets = {DAY - 10: 100, DAY: 100, DAY + 1: 100}
        assert estimate(buckets, DAY, alpha=0.3, horizon_days=7) == DemandEstimate(0.0, 0.0)

    def test_alpha_one_follows_the_last_day(self) -> None:
        # mean = previous + 1·δ = x; var = 0·(...) = 0
        buckets = {DAY - 2: 3, DAY - 1: 9}
        assert estimate(buckets, DAY, alpha=1.0, horizon_days=5) == DemandEstimate(9.0, 0.0)

    def test_without_history_the_prior_is_the_estimate(self) -> None:
        assert estimate({}, DAY, alpha=0.1, horizon_days=28, prior=2.0) == DemandEstimate(2.0, 2.0)

    def test_the_prior_starts_at_the_first_day_with_demand(self) -> None:
        # first demand DAY-2 (4 units), then DAY-1 (0): prior 2 → 2 + 0.5·(4-2) = 3,
        # var (1-0.5)·(2 + 0.5·4) = 2; then 3 + 0.5·(0-3) = 1.5, var 0.5·(2 + 0.5·9) = 3.25
        buckets = {DAY - 2: 4}
        assert estimate(buckets, DAY, alpha=0.5, horizon_days=28, prior=2.0) == DemandEstimate(
            1.5, 3.25
        )

    def test_the_prior_weighs_little_once_the_window_is_full_of_history(self) -> None:
        buckets = dict.fromkeys(range(DAY - 40, DAY), 5)
        result = estimate(buckets, DAY, alpha=0.2, horizon_days=28, prior=50.0)
        assert abs(result.mean_daily - 5) < 45 * 0.8**28 + 1e-9

    def test_a_one_day_window_is_yesterday(self) -> None:
        assert estimate({DAY - 2: 8, DAY - 1: 5}, DAY, alpha=0.5, horizon_days=1) == (
            DemandEstimate(5.0, 0.0)
        )

    @pytest.mark.parametrize("prior", [0.0, 0.5])
    def test_a_prior_below_one_unit_a_day_is_taken(self, prior: float) -> None:
        assert estimate({}, DAY, alpha=0.1, horizon_days=28, prior=prior) == (
            DemandEstimate(prior, prior)
        )

    def test_a_negative_prior_is_refused(self) -> None:
        with pytest.raises(ValueError, match=r"^prior must be >= 0, got -1\.0$"):
            estimate({}, DAY, alpha=0.1, horizon_days=28, prior=-1.0)

    @pytest.mark.parametrize(("alpha", "horizon_days"), [(0.0, 7), (1.5, 7), (0.2, 0)])
    def test_bad_parameters_are_refused(self, alpha: float, horizon_days: int) -> None:
        with pytest.raises(ValueError, match=r"alpha|horizon_days"):
            estimate({}, DAY, alpha=alpha, horizon_days=horizon_days)


@st.composite
def demand_events(draw: st.DrawFn) -> list[InventoryEvent]:
    rows = draw(
        st.lists(
            st.tuples(st.integers(-20, 0), st.integers(1, 50), st.sampled_from(["o", "p", "op"])),
            max_size=30,
        )
    )
    events: list[InventoryEvent] = []
    for i, (offset, qty, kind) in enumerate(rows):
        if kind == "o":
            events.append(placed(f"e{i}", qty, day=DAY + offset))
        else:
            events.append(pick(f"e{i}", qty, "o-x" if kind == "op" else None, day=DAY + offset))
    return events


@settings(max_examples=200, deadline=None)
@given(data=st.data(), events=demand_events(), alpha=st.floats(0.01, 1.0))
def test_the_estimate_is_the_same_for_any_order_and_duplication_of_the_events(
    data: st.DataObject, events: list[InventoryEvent], alpha: float
) -> None:
    shuffled = data.draw(st.permutations(events), label="shuffled")
    redelivered = st.lists(st.sampled_from(events), max_size=10) if events else st.just([])
    again = data.draw(redelivered, label="redelivered")
    first = daily_buckets(events).get(("DC-1", SKU), {})
    second = daily_buckets([*shuffled, *again]).get(("DC-1", SKU), {})
    assert second == first
    assert estimate(second, DAY + 1, alpha, 21) == estimate(first, DAY + 1, alpha, 21)
