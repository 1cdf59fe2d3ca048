"""Signals at their edges (domain/signals.py): a need of exactly what a transfer brings or
one unit more, a donor with one spare unit, a SKU with a policy of its own, a second
transfer on the same day. Worked numbers in the comments; position = on_hand here."""

from __future__ import annotations

from stockline.domain.ledger import NodeStock
from stockline.domain.network import Lane, Network, Node, NodeKind, Policies, SkuClass, SkuClasses
from stockline.domain.policy import Levels, StaticPolicy
from stockline.domain.signals import (
    RebalanceSignal,
    ReorderSignal,
    Review,
    ReviewMark,
    review,
)

SKU = "SKU-1"
AS_OF = "2026-11-25T10:00:00Z"
DAY = 20_417
CASES_OF_6 = StaticPolicy(reorder_point=20, order_up_to=50, supplier_lead_time_days=10,
                          case_pack=6, moq=6)  # fmt: skip
SINGLES = StaticPolicy(reorder_point=20, order_up_to=50, supplier_lead_time_days=10)
STORE_LEVELS = Levels(safety_stock=0, reorder_point=20, order_up_to=50)
DC_LEVELS = Levels(safety_stock=10, reorder_point=40, order_up_to=80)


def network(default: StaticPolicy, by_sku: dict[str, StaticPolicy] | None = None) -> Network:
    return Network(
        nodes=(
            Node("DC-1", NodeKind.DC, "east", frozenset({"web"})),
            Node("STORE-1", NodeKind.STORE, "east", frozenset({"store-pickup"})),
        ),
        lanes=(Lane("DC-1", "STORE-1", 2, 0.40),),
        classes=SkuClasses(SkuClass.A),
        policies=Policies(defaults=dict.fromkeys(SkuClass, default), by_sku=by_sku or {}),
    )


def run(
    store: int,
    dc: int | None = None,
    net: Network | None = None,
    store_levels: Levels = STORE_LEVELS,
    marks: dict[str, ReviewMark] | None = None,
) -> Review:
    """A review of STORE-1 at on_hand `store`, with DC-1 at on_hand `dc` as its donor."""
    stock = {"STORE-1": NodeStock(on_hand=store)}
    levels = {"STORE-1": store_levels}
    if dc is not None:
        stock["DC-1"], levels["DC-1"] = NodeStock(on_hand=dc), DC_LEVELS
    net = net or network(CASES_OF_6)
    return review(SKU, stock, levels, net, marks or {}, day=DAY, as_of=AS_OF)


def kinds(result: Review) -> list[tuple[str, int]]:
    return [
        ("reorder", s.suggested_qty) if isinstance(s, ReorderSignal) else ("transfer", s.qty)
        for s in result.signals
    ]


class TestWhatIsLeftAfterATransfer:
    def test_a_transfer_of_the_whole_need_orders_nothing(self) -> None:
        # need = 50 - 20 = 30 = 5 cases; DC spare = 110 - 80 = 30: all of it moves
        assert kinds(run(store=20, dc=110)) == [("transfer", 30)]

    def test_one_unit_left_is_ordered_as_a_case(self) -> None:
        # need = 50 - 19 = 31; transfer ⌊30/6⌋·6 = 30; left 1 → ⌈1/6⌉·6 = 6 (MOQ 6)
        assert kinds(run(store=19, dc=110)) == [("transfer", 30), ("reorder", 6)]


class TestSmallNeeds:
    def test_a_need_of_one_unit_is_ordered(self) -> None:
        # position 20 ≤ reorder_point 20; need = 21 - 20 = 1 → one case of 6
        result = run(store=20, store_levels=Levels(0, 20, 21))
        assert kinds(result) == [("reorder", 6)]
        assert result.marks == {"STORE-1": ReviewMark(DAY, covered=6)}

    def test_a_node_with_no_need_is_left_alone(self) -> None:
        # position 20 ≤ reorder_point 20 but order_up_to 20: need 0, no signal, no mark
        assert run(store=20, store_levels=Levels(0, 20, 20)) == Review()

    def test_a_donor_gives_its_only_spare_unit(self) -> None:
        # singles: need = 50 - 45 = 5; DC spare = 81 - 80 = 1 moves; 4 are ordered
        result = run(store=45, dc=81, net=network(SINGLES), store_levels=Levels(0, 45, 50))
        assert kinds(result) == [("transfer", 1), ("reorder", 4)]
        assert result.marks["DC-1"] == ReviewMark(DAY, given=1)


class TestPolicyAndIds:
    def test_the_skus_own_policy_decides(self) -> None:
        # class default: lead time 1 day, so the 2-day lane is too slow and 30 are ordered;
        # SKU-1's own policy: lead time 10 days, so the DC's spare 30 moves instead
        slow_lane = StaticPolicy(reorder_point=20, order_up_to=50, supplier_lead_time_days=1)
        assert kinds(run(store=20, dc=110, net=network(slow_lane))) == [("reorder", 30)]
        own = network(slow_lane, by_sku={SKU: CASES_OF_6})
        assert kinds(run(store=20, dc=110, net=own)) == [("transfer", 30)]

    def test_a_second_transfer_the_same_day_is_a_new_signal(self) -> None:
        first = run(store=20, dc=110)  # moves 30, the whole need
        # later that day: the store sold 10 more, the DC received 12 (spare 42, 30 given)
        second = run(store=10, dc=122, marks=dict(first.marks))
        assert kinds(second) == [("transfer", 12)]  # need 50 - 10 - 30 = 10 → 2 cases
        ids = [s.signal_id for s in (*first.signals, *second.signals)]
        assert all(isinstance(s, RebalanceSignal) for s in (*first.signals, *second.signals))
        assert len(set(ids)) == 2  # a consumer deduplicating by id keeps both transfers


def test_a_mark_of_an_earlier_day_counts_nothing_today() -> None:
    assert ReviewMark(DAY - 1, covered=30, given=12).on(DAY) == ReviewMark(DAY)
    assert ReviewMark(DAY, covered=30).on(DAY) == ReviewMark(DAY, covered=30)
