"""The daily review: reorder and rebalance signals (DESIGN.md section 5), with the arithmetic
in comments (the same worked numbers as docs/signals.md).

A small network: DC-1 and DC-2 supply STORE-1 and STORE-2 (lanes 2 and 3 days); the
supplier lead time is 10 days; the case pack is 6 and the MOQ 20 unless a test says
otherwise. Stores: reorder_point 20, order_up_to 50. DCs: reorder_point 40, order_up_to 80.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stockline.domain.ledger import NodeStock
from stockline.domain.network import (
    Lane,
    Network,
    Node,
    NodeKind,
    Policies,
    SkuClass,
    SkuClasses,
)
from stockline.domain.policy import Levels, StaticPolicy
from stockline.domain.signals import (
    REBALANCE_REASON,
    REORDER_REASON,
    RebalanceSignal,
    ReorderSignal,
    Review,
    ReviewMark,
    review,
    signal_id,
    spare,
    suggested_qty,
)

SKU = "SKU-1"
AS_OF = "2026-11-25T10:00:00Z"
DAY = 20_417
POLICY = StaticPolicy(reorder_point=20, order_up_to=50, supplier_lead_time_days=10,
                      case_pack=6, moq=20)  # fmt: skip
STORE_LEVELS = Levels(safety_stock=0, reorder_point=20, order_up_to=50)
DC_LEVELS = Levels(safety_stock=10, reorder_point=40, order_up_to=80)
STORES = ("STORE-1", "STORE-2")


def network(
    lanes: list[tuple[str, str, int, float]], donors: tuple[str, ...] = ("DC-1", "DC-2")
) -> Network:
    nodes = [Node(n, NodeKind.DC, "east", frozenset({"web"})) for n in donors]
    nodes += [Node(s, NodeKind.STORE, "east", frozenset({"store-pickup"})) for s in STORES]
    return Network(
        nodes=tuple(nodes),
        lanes=tuple(Lane(*lane) for lane in lanes),
        classes=SkuClasses(SkuClass.A),
        policies=Policies(defaults=dict.fromkeys(SkuClass, POLICY)),
    )


TWO_DCS = network([("DC-1", "STORE-1", 2, 0.40), ("DC-2", "STORE-1", 3, 0.30),
                   ("DC-1", "STORE-2", 2, 0.40), ("DC-2", "STORE-2", 3, 0.30)])  # fmt: skip
NO_LANES = network([])


def stock(on_hand: int, reserved: int = 0, inbound: int = 0, held: int = 0) -> NodeStock:
    return NodeStock(on_hand, reserved, inbound, held)


def run(
    nodes: dict[str, NodeStock],
    net: Network = TWO_DCS,
    marks: dict[str, ReviewMark] | None = None,
    day: int = DAY,
) -> Review:
    levels = {n: DC_LEVELS if n.startswith("DC") else STORE_LEVELS for n in nodes}
    return review(SKU, nodes, levels, net, marks or {}, day=day, as_of=AS_OF)


def kinds(result: Review) -> list[tuple[str, str, int]]:
    out = []
    for s in result.signals:
        if isinstance(s, ReorderSignal):
            out.append(("reorder", s.node_id, s.suggested_qty))
        else:
            out.append((f"rebalance from {s.from_node}", s.to_node, s.qty))
    return out


class TestSuggestedQty:
    def test_the_gap_rounded_up_to_the_case_pack(self) -> None:
        # gap = 50 - 3 = 47 → ⌈47/6⌉·6 = 8·6 = 48; MOQ 20 → ⌈20/6⌉·6 = 24; max = 48
        assert suggested_qty(3, STORE_LEVELS, POLICY) == 48

    def test_the_moq_when_the_gap_is_small(self) -> None:
        # gap = 50 - 45 = 5 → 6; MOQ → 24; max = 24
        assert suggested_qty(45, STORE_LEVELS, POLICY) == 24

    def test_a_negative_position_is_ordered_back_up_too(self) -> None:
        # gap = 50 - (-7) = 57 → ⌈57/6⌉·6 = 60
        assert suggested_qty(-7, STORE_LEVELS, POLICY) == 60


class TestSpare:
    def test_shippable_stock_above_order_up_to(self) -> None:
        # position = 150 + 0 - 10 = 140; above order_up_to: 140 - 80 = 60; shippable 140
        assert spare(stock(150, reserved=10), DC_LEVELS) == 60

    def test_stock_still_on_order_is_not_shippable(self) -> None:
        # position = 30 + 170 = 200 (120 above order_up_to) but only 30 on the shelf
        assert spare(stock(30, inbound=170), DC_LEVELS) == 30

    def test_held_and_reserved_units_are_not_shippable(self) -> None:
        # shippable = 100 - 20 - 50 = 30; position 100 - 20 - 50 + 200 = 230 → 150 above
        assert spare(stock(100, reserved=20, inbound=200, held=50), DC_LEVELS) == 30

    def test_a_donor_at_or_below_order_up_to_has_none(self) -> None:
        assert spare(stock(80), DC_LEVELS) == 0
        assert spare(stock(-5), DC_LEVELS) == 0


class TestReorder:
    def test_a_short_node_without_donor_is_reordered_to_order_up_to(self) -> None:
        # position 18 ≤ reorder_point 20; suggested = ⌈(50-18)/6⌉·6 = ⌈5.33⌉·6 = 36
        result = run({"STORE-1": stock(18)}, NO_LANES)
        (signal,) = result.signals
        assert signal == ReorderSignal(
            signal_id=signal_id("reorder", "STORE-1", SKU, DAY, 0),
            node_id="STORE-1",
            sku=SKU,
            position=18,
            reorder_point=20,
            order_up_to=50,
            suggested_qty=36,
            reason=REORDER_REASON,
            as_of=AS_OF,
        )
        assert result.marks == {"STORE-1": ReviewMark(DAY, covered=36)}

    def test_exactly_at_the_reorder_point_is_short(self) -> None:
        # position 20 ≤ 20; gap 30 → 30 (5 cases) ≥ MOQ 24
        assert kinds(run({"STORE-1": stock(20)}, NO_LANES)) == [("reorder", "STORE-1", 30)]

    def test_above_the_reorder_point_nothing(self) -> None:
        assert run({"STORE-1": stock(21)}, NO_LANES) == Review()

    def test_position_counts_inbound_and_reserved(self) -> None:
        # position = 10 + 15 - 4 = 21 > 20: covered by what is on order
        assert run({"STORE-1": stock(10, reserved=4, inbound=15)}, NO_LANES).signals == ()

    def test_the_same_day_emits_only_what_its_earlier_signals_do_not_cover(self) -> None:
        # 09:00: position 18 → reorder 36 (covered 36). 15:00, the order not yet placed,
        # position 12: need = 50 - 12 - 36 = 2 → a reorder of the MOQ, 24 (covered 60)
        first = run({"STORE-1": stock(18)}, NO_LANES)
        second = run({"STORE-1": stock(12)}, NO_LANES, dict(first.marks))
        assert kinds(second) == [("reorder", "STORE-1", 24)]
        assert second.marks == {"STORE-1": ReviewMark(DAY, covered=60)}
        assert second.signals[0].signal_id == signal_id("reorder", "STORE-1", SKU, DAY, 36)
        assert second.signals[0].signal_id != first.signals[0].signal_id

    def test_a_covered_gap_emits_nothing_again_the_same_day(self) -> None:
        # the ASN of 36 arrived: position 18 + 36 = 54 > 20; or still 18 and covered 36
        first = run({"STORE-1": stock(18)}, NO_LANES)
        assert run({"STORE-1": stock(18)}, NO_LANES, dict(first.marks)) == Review()
        assert run({"STORE-1": stock(18, inbound=36)}, NO_LANES, dict(first.marks)) == Review()

    def test_a_crossing_left_unhandled_is_signalled_again_the_next_day(self) -> None:
        # nobody acted on day DAY's reorder; on DAY + 1 the marks of DAY count nothing
        first = run({"STORE-1": stock(18)}, NO_LANES)
        again = run({"STORE-1": stock(18)}, NO_LANES, dict(first.marks), day=DAY + 1)
        assert kinds(again) == [("reorder", "STORE-1", 36)]
        assert again.signals[0].signal_id == signal_id("reorder", "STORE-1", SKU, DAY + 1, 0)

    def test_ids_are_the_same_on_a_replay_and_differ_by_kind_node_sku_and_day(self) -> None:
        ids = {
            signal_id("reorder", "STORE-1", SKU, DAY),
            signal_id("rebalance", "STORE-1", SKU, DAY),
            signal_id("reorder", "STORE-2", SKU, DAY),
            signal_id("reorder", "STORE-1", "SKU-2", DAY),
            signal_id("reorder", "STORE-1", SKU, DAY + 1),
            signal_id("reorder", "STORE-1", SKU, DAY, 36),
        }
        assert len(ids) == 6
        assert run({"STORE-1": stock(18)}, NO_LANES) == run({"STORE-1": stock(18)}, NO_LANES)


class TestRebalance:
    def test_the_donor_with_the_most_spare_covers_the_need_in_whole_cases(self) -> None:
        # STORE-1 position 12: need 50 - 12 = 38 → ⌈38/6⌉·6 = 42 if the spare allows.
        # DC-1 spare = min(130, 130 - 80) = 50, DC-2 spare = 20: DC-1 wins;
        # qty = min(42, ⌊50/6⌋·6 = 48) = 42: position 12 + 42 = 54 ≥ 50, nothing to reorder
        result = run({"STORE-1": stock(12), "DC-1": stock(130), "DC-2": stock(100)})
        (signal,) = result.signals
        assert signal == RebalanceSignal(
            signal_id=signal_id("rebalance", "STORE-1", SKU, DAY, 0),
            sku=SKU,
            from_node="DC-1",
            to_node="STORE-1",
            qty=42,
            lane_days=2,
            lane_cost=0.40,
            reason=REBALANCE_REASON,
            as_of=AS_OF,
        )
        assert result.marks == {
            "DC-1": ReviewMark(DAY, given=42),
            "STORE-1": ReviewMark(DAY, covered=42),
        }

    def test_what_a_rebalance_does_not_cover_is_reordered_in_the_same_review(self) -> None:
        # need 38; DC-1 spare 100 - 80 = 20 → ⌊20/6⌋·6 = 18 moved; 38 - 18 = 20 left →
        # a reorder of max(⌈20/6⌉·6 = 24, MOQ 24) = 24: 12 + 18 + 24 = 54 ≥ 50
        result = run({"STORE-1": stock(12), "DC-1": stock(100)})
        assert kinds(result) == [("rebalance from DC-1", "STORE-1", 18), ("reorder", "STORE-1", 24)]
        assert result.marks["STORE-1"] == ReviewMark(DAY, covered=42)

    def test_a_donor_with_stock_only_on_order_gives_only_its_shelf(self) -> None:
        # DC-1: on_hand 10, inbound 200 → position 210, but only 10 shippable → 6 moved
        result = run({"STORE-1": stock(12), "DC-1": stock(10, inbound=200)})
        assert kinds(result) == [("rebalance from DC-1", "STORE-1", 6), ("reorder", "STORE-1", 36)]

    def test_spare_promised_to_one_short_node_is_not_offered_to_the_next(self) -> None:
        # DC-1 spare 130 - 80 = 50. STORE-1 need 38 → 42 from DC-1 (8 left, 6 in cases).
        # STORE-2 need 50 - 10 = 40: DC-1 now offers 6, DC-2 (spare 20) 18: DC-2 wins with 18;
        # 40 - 18 = 22 reordered as 24.
        result = run({"STORE-1": stock(12), "STORE-2": stock(10),
                      "DC-1": stock(130), "DC-2": stock(100)})  # fmt: skip
        assert kinds(result) == [
            ("rebalance from DC-1", "STORE-1", 42),
            ("rebalance from DC-2", "STORE-2", 18),
            ("reorder", "STORE-2", 24),
        ]
        assert result.marks["DC-1"] == ReviewMark(DAY, given=42)

    def test_spare_given_earlier_the_same_day_is_not_offered_again(self) -> None:
        # DC-1 spare 50, of which 42 went to STORE-1 this morning; STORE-2 short now
        marks = {"DC-1": ReviewMark(DAY, given=42)}
        result = run({"STORE-2": stock(10), "DC-1": stock(130)}, marks=marks)
        assert kinds(result) == [("rebalance from DC-1", "STORE-2", 6), ("reorder", "STORE-2", 36)]

    def test_a_tie_in_spare_goes_to_the_cheaper_lane(self) -> None:
        result = run({"STORE-1": stock(12), "DC-1": stock(100), "DC-2": stock(100)})
        # both spare 100 - 80 = 20; DC-2's lane costs 0.30 against DC-1's 0.40
        assert kinds(result)[0] == ("rebalance from DC-2", "STORE-1", 18)

    def test_a_lane_not_faster_than_the_supplier_does_not_count(self) -> None:
        slow = network([("DC-1", "STORE-1", 10, 0.1)])
        assert kinds(run({"STORE-1": stock(12), "DC-1": stock(300)}, slow)) == [
            ("reorder", "STORE-1", 42)
        ]

    def test_less_spare_than_a_case_is_no_donor(self) -> None:
        assert kinds(run({"STORE-1": stock(12), "DC-1": stock(85)})) == [("reorder", "STORE-1", 42)]


# --- properties ------------------------------------------------------------------------

DONORS = tuple(f"DC-{i}" for i in range(1, 5))
levels_st = st.builds(
    lambda rop, extra, ss: Levels(min(ss, rop), rop, rop + extra),
    st.integers(0, 200), st.integers(0, 200), st.integers(0, 200),
)  # fmt: skip
stock_st = st.builds(NodeStock, st.integers(-50, 600), st.integers(0, 100),
                     st.integers(0, 300), st.integers(0, 50))  # fmt: skip


@st.composite
def review_cases(
    draw: st.DrawFn,
) -> tuple[Network, dict[str, NodeStock], dict[str, Levels], int, int]:
    short = ("STORE-1", "STORE-2")
    lanes = [
        (donor, store, draw(st.integers(0, 12)), draw(st.floats(0, 5)))
        for donor in DONORS
        for store in short
        if draw(st.booleans())
    ]
    case_pack, moq = draw(st.integers(1, 24)), draw(st.integers(1, 60))
    policy = StaticPolicy(reorder_point=0, order_up_to=0, supplier_lead_time_days=10,
                          case_pack=case_pack, moq=moq)  # fmt: skip
    nodes = (*DONORS, *short)
    net = Network(
        nodes=tuple(Node(n, NodeKind.DC, "r", frozenset()) for n in nodes),
        lanes=tuple(Lane(*lane) for lane in lanes),
        classes=SkuClasses(SkuClass.A),
        policies=Policies(defaults=dict.fromkeys(SkuClass, policy)),
    )
    return (net, {n: draw(stock_st) for n in nodes}, {n: draw(levels_st) for n in nodes},
            case_pack, moq)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(case=review_cases())
def test_a_review_covers_every_short_node_from_shippable_spare_promised_once(
    case: tuple[Network, dict[str, NodeStock], dict[str, Levels], int, int],
) -> None:
    net, nodes, levels, case_pack, moq = case
    result = review(SKU, nodes, levels, net, {}, day=DAY, as_of=AS_OF)
    moved: dict[str, int] = {}
    arriving: dict[str, int] = {}
    for s in result.signals:
        if isinstance(s, RebalanceSignal):
            moved[s.from_node] = moved.get(s.from_node, 0) + s.qty
            arriving[s.to_node] = arriving.get(s.to_node, 0) + s.qty
            assert s.qty % case_pack == 0
            assert s.lane_days < 10
        else:
            arriving[s.node_id] = arriving.get(s.node_id, 0) + s.suggested_qty
            assert s.suggested_qty % case_pack == 0
            assert s.suggested_qty >= moq
    for donor, units in moved.items():
        assert units <= spare(nodes[donor], levels[donor])  # shippable, promised once
    for node, stock_ in nodes.items():
        short = stock_.position() <= levels[node].reorder_point
        if short:  # a crossing is handled: its signals bring position to order_up_to
            assert stock_.position() + arriving.get(node, 0) >= levels[node].order_up_to
        else:
            assert node not in arriving
    again = review(SKU, nodes, levels, net, dict(result.marks), day=DAY, as_of=AS_OF)
    assert again.signals == ()  # the same state, reviewed again the same day: nothing new


def test_a_network_refuses_a_lane_to_an_unknown_node() -> None:
    with pytest.raises(ValueError, match="DC-1->DC-9 must join two known nodes"):
        network([("DC-1", "DC-9", 1, 0.1)])
