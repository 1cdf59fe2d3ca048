"""Reorder and rebalance decisions (DESIGN.md section 5), with the arithmetic in comments.

A small network: DC-1 and DC-2 supply STORE-1 (lanes 2 and 3 days); the supplier lead time
is 10 days; the case pack is 6 and the MOQ 20 unless a test says otherwise.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
    decide,
    rebalance_decision,
    reorder_decision,
    signal_id,
    suggested_qty,
)

SKU = "SKU-1"
AS_OF = "2026-11-25T10:00:00Z"
POLICY = StaticPolicy(reorder_point=20, order_up_to=50, supplier_lead_time_days=10,
                      case_pack=6, moq=20)  # fmt: skip
STORE_LEVELS = Levels(safety_stock=0, reorder_point=20, order_up_to=50)


def network(
    lanes: list[tuple[str, str, int, float]], donors: tuple[str, ...] = ("DC-1", "DC-2")
) -> Network:
    nodes = [Node(n, NodeKind.DC, "east", frozenset({"web"})) for n in donors]
    nodes.append(Node("STORE-1", NodeKind.STORE, "east", frozenset({"store-pickup"})))
    return Network(
        nodes=tuple(nodes),
        lanes=tuple(Lane(*lane) for lane in lanes),
        classes=SkuClasses(SkuClass.A),
        policies=Policies(defaults=dict.fromkeys(SkuClass, POLICY)),
    )


TWO_DCS = network([("DC-1", "STORE-1", 2, 0.40), ("DC-2", "STORE-1", 3, 0.30)])
DC_LEVELS = Levels(safety_stock=10, reorder_point=40, order_up_to=80)


def reorder(position: int, armed: bool = True) -> tuple[ReorderSignal | None, bool]:
    return reorder_decision(position, STORE_LEVELS, POLICY, armed, node_id="STORE-1", sku=SKU,
                            version=7, as_of=AS_OF)  # fmt: skip


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


class TestReorder:
    def test_a_crossing_fires_one_signal_and_disarms(self) -> None:
        # position 18 ≤ reorder_point 20; suggested = ⌈(50-18)/6⌉·6 = ⌈5.33⌉·6 = 36
        signal, armed = reorder(18)
        assert armed is False
        assert signal == ReorderSignal(
            signal_id=signal_id("reorder", "STORE-1", SKU, 7),
            node_id="STORE-1", sku=SKU, position=18, reorder_point=20, order_up_to=50,
            suggested_qty=36, reason=REORDER_REASON, as_of=AS_OF,
        )  # fmt: skip

    def test_exactly_at_the_reorder_point_fires(self) -> None:
        assert reorder(20)[0] is not None

    def test_no_repeat_while_the_position_stays_low(self) -> None:
        assert reorder(10, armed=False) == (None, False)

    def test_rearmed_only_above_the_reorder_point(self) -> None:
        assert reorder(20, armed=False) == (None, False)
        assert reorder(21, armed=False) == (None, True)
        assert reorder(21, armed=True) == (None, True)

    def test_the_payload_has_exactly_the_design_fields(self) -> None:
        signal, _ = reorder(18)
        assert signal is not None
        assert list(signal.payload()) == [
            "signal_id", "node_id", "sku", "position", "reorder_point", "order_up_to",
            "suggested_qty", "reason", "as_of",
        ]  # fmt: skip

    def test_the_signal_id_is_the_same_on_a_replay_and_new_per_crossing(self) -> None:
        assert signal_id("reorder", "STORE-1", SKU, 7) == signal_id("reorder", "STORE-1", SKU, 7)
        assert signal_id("reorder", "STORE-1", SKU, 7) != signal_id("reorder", "STORE-1", SKU, 8)
        assert signal_id("reorder", "STORE-1", SKU, 7) != signal_id("rebalance", "STORE-1", SKU, 7)


def rebalance(
    positions: dict[str, int], net: Network = TWO_DCS, lead_time: float = 10
) -> RebalanceSignal | None:
    levels = {"DC-1": DC_LEVELS, "DC-2": DC_LEVELS, "STORE-1": STORE_LEVELS}
    return rebalance_decision(SKU, "STORE-1", positions, levels, net, lead_time,
                              version=7, as_of=AS_OF)  # fmt: skip


class TestRebalance:
    def test_the_donor_with_the_most_spare_gives_what_is_needed_in_whole_cases(self) -> None:
        # need = 50 - 12 = 38; spare DC-1 = 130 - max(80, 40) = 50, DC-2 = 100 - 80 = 20
        # DC-1 wins; qty = ⌊min(50, 38)/6⌋·6 = ⌊6.33⌋·6 = 36
        signal = rebalance({"STORE-1": 12, "DC-1": 130, "DC-2": 100})
        assert signal == RebalanceSignal(
            signal_id=signal_id("rebalance", "STORE-1", SKU, 7), sku=SKU, from_node="DC-1",
            to_node="STORE-1", qty=36, lane_days=2, lane_cost=0.40,
            reason=REBALANCE_REASON, as_of=AS_OF,
        )  # fmt: skip
        assert list(signal.payload()) == [
            "signal_id", "sku", "from_node", "to_node", "qty", "lane_days", "lane_cost",
            "reason", "as_of",
        ]  # fmt: skip

    def test_never_more_than_the_spare(self) -> None:
        # need = 50 - 0 = 50; spare DC-1 = 93 - 80 = 13 → qty = ⌊13/6⌋·6 = 12 (DC-1 keeps 81)
        signal = rebalance({"STORE-1": 0, "DC-1": 93, "DC-2": 80})
        assert signal is not None
        assert (signal.from_node, signal.qty) == ("DC-1", 12)

    def test_a_tie_in_spare_goes_to_the_cheaper_lane(self) -> None:
        # both spare 30; DC-2's lane costs 0.30 < 0.40
        signal = rebalance({"STORE-1": 12, "DC-1": 110, "DC-2": 110})
        assert signal is not None
        assert (signal.from_node, signal.lane_cost, signal.qty) == ("DC-2", 0.30, 30)

    def test_a_lane_not_faster_than_the_supplier_does_not_count(self) -> None:
        # lead time 3: DC-1's 2-day lane beats it, DC-2's 3-day lane does not
        signal = rebalance({"STORE-1": 12, "DC-1": 90, "DC-2": 200}, lead_time=3)
        assert signal is not None
        assert signal.from_node == "DC-1"
        assert rebalance({"STORE-1": 12, "DC-1": 90, "DC-2": 200}, lead_time=2) is None

    def test_a_node_without_a_lane_to_the_short_node_is_no_donor(self) -> None:
        net = network([("DC-1", "STORE-1", 2, 0.40), ("STORE-1", "DC-2", 1, 0.10)])
        signal = rebalance({"STORE-1": 12, "DC-1": 90, "DC-2": 500}, net=net)
        assert signal is not None
        assert signal.from_node == "DC-1"

    def test_less_spare_than_a_case_is_no_donor(self) -> None:
        # spare DC-1 = 85 - 80 = 5 < case pack 6; DC-2 at its order_up_to has none
        assert rebalance({"STORE-1": 12, "DC-1": 85, "DC-2": 80}) is None

    def test_a_node_at_its_order_up_to_needs_nothing(self) -> None:
        assert rebalance({"STORE-1": 50, "DC-1": 500, "DC-2": 500}) is None


class TestDecide:
    def test_a_crossing_with_a_donor_is_a_rebalance(self) -> None:
        signal, armed = run_decide({"STORE-1": 12, "DC-1": 130, "DC-2": 100}, armed=True)
        assert isinstance(signal, RebalanceSignal)
        assert armed is False

    def test_a_crossing_without_a_donor_is_a_reorder(self) -> None:
        signal, armed = run_decide({"STORE-1": 12, "DC-1": 60, "DC-2": 60}, armed=True)
        assert isinstance(signal, ReorderSignal)
        assert (signal.suggested_qty, armed) == (42, False)  # ⌈(50-12)/6⌉·6 = 7·6 = 42

    def test_no_signal_when_disarmed(self) -> None:
        assert run_decide({"STORE-1": 12, "DC-1": 130, "DC-2": 100}, armed=False) == (None, False)


def run_decide(positions: dict[str, int], armed: bool) -> tuple[object, bool]:
    levels = {"DC-1": DC_LEVELS, "DC-2": DC_LEVELS, "STORE-1": STORE_LEVELS}
    return decide(SKU, "STORE-1", positions, levels, TWO_DCS, armed, version=7, as_of=AS_OF)


# --- properties ------------------------------------------------------------------------

DONORS = tuple(f"DC-{i}" for i in range(1, 6))
levels_st = st.builds(
    lambda rop, extra, ss: Levels(min(ss, rop), rop, rop + extra),
    st.integers(0, 200), st.integers(0, 200), st.integers(0, 200),
)  # fmt: skip


@st.composite
def rebalance_cases(draw: st.DrawFn) -> tuple[Network, dict[str, int], dict[str, Levels], int]:
    lanes = [
        (donor, "STORE-1", draw(st.integers(0, 12)), draw(st.floats(0, 5)))
        for donor in DONORS
        if draw(st.booleans())
    ]
    case_pack = draw(st.integers(1, 24))
    policy = StaticPolicy(reorder_point=0, order_up_to=0, supplier_lead_time_days=10,
                          case_pack=case_pack)  # fmt: skip
    net = Network(
        nodes=tuple(Node(n, NodeKind.DC, "r", frozenset()) for n in (*DONORS, "STORE-1")),
        lanes=tuple(Lane(*lane) for lane in lanes),
        classes=SkuClasses(SkuClass.A),
        policies=Policies(defaults=dict.fromkeys(SkuClass, policy)),
    )
    nodes = (*DONORS, "STORE-1")
    positions = {n: draw(st.integers(-50, 600)) for n in nodes}
    levels = {n: draw(levels_st) for n in nodes}
    return net, positions, levels, case_pack


@settings(max_examples=500, deadline=None)
@given(case=rebalance_cases(), lead_time=st.integers(1, 14))
def test_a_rebalance_never_takes_a_donor_below_its_reorder_point_nor_exceeds_spare_or_need(
    case: tuple[Network, dict[str, int], dict[str, Levels], int], lead_time: int
) -> None:
    net, positions, levels, case_pack = case
    signal = rebalance_decision(SKU, "STORE-1", positions, levels, net, lead_time,
                                version=1, as_of=AS_OF)  # fmt: skip
    if signal is None:
        return
    donor = levels[signal.from_node]
    spare = positions[signal.from_node] - max(donor.order_up_to, donor.reorder_point)
    need = levels["STORE-1"].order_up_to - positions["STORE-1"]
    assert positions[signal.from_node] - signal.qty >= donor.reorder_point
    assert 0 < signal.qty <= min(spare, need)
    assert signal.qty % case_pack == 0
    assert signal.lane_days < lead_time


@settings(max_examples=300, deadline=None)
@given(
    path=st.lists(st.integers(-20, 80), max_size=60),
    reorder_point=st.integers(0, 50),
)
def test_exactly_one_reorder_signal_per_crossing_of_any_position_path(
    path: list[int], reorder_point: int
) -> None:
    levels = Levels(0, reorder_point, reorder_point + 30)
    armed, fired = True, []
    for version, position in enumerate(path):
        signal, armed = reorder_decision(position, levels, POLICY, armed, node_id="N", sku=SKU,
                                         version=version, as_of=AS_OF)  # fmt: skip
        fired.append(signal is not None)
    # a crossing: at or below the reorder point now, above it before (or the first reading)
    low = [p <= reorder_point for p in path]
    crossings = [now and (i == 0 or not low[i - 1]) for i, now in enumerate(low)]
    assert fired == crossings


@settings(max_examples=300, deadline=None)
@given(
    position=st.integers(-1000, 1000),
    levels=levels_st,
    case_pack=st.integers(1, 48),
    moq=st.integers(1, 500),
)
def test_suggested_qty_is_whole_cases_at_least_the_moq_reaching_order_up_to(
    position: int, levels: Levels, case_pack: int, moq: int
) -> None:
    policy = StaticPolicy(reorder_point=0, order_up_to=0, supplier_lead_time_days=5,
                          case_pack=case_pack, moq=moq)  # fmt: skip
    qty = suggested_qty(position, levels, policy)
    assert qty % case_pack == 0
    assert qty >= moq
    assert position + qty >= levels.order_up_to
    assert qty - case_pack < max(levels.order_up_to - position, moq)  # no whole case too many


def test_a_network_refuses_a_lane_to_an_unknown_node() -> None:
    with pytest.raises(ValueError, match="DC-1->DC-9 must join two known nodes"):
        network([("DC-1", "DC-9", 1, 0.1)])
