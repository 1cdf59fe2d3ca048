"""Policy levels (DESIGN.md section 5) with the arithmetic of each example in the comments.

z(0.95) = 1.6449, z(0.98) = 2.0537, z(0.99) = 2.3263; sigma = √var; L = lead_time_days.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stockline.domain.demand import DemandEstimate
from stockline.domain.policy import (
    DynamicPolicy,
    Levels,
    StaticPolicy,
    levels,
    prior_of,
    whole_units,
    z,
)


def dynamic(**fields: object) -> DynamicPolicy:
    defaults: dict[str, object] = {"service_level": 0.95, "cover_days": 7.0}
    return DynamicPolicy(**{**defaults, **fields, "supplier_lead_time_days": 9})  # type: ignore[arg-type]


def test_z_is_the_standard_normal_quantile() -> None:
    assert z(0.95) == pytest.approx(1.6449, abs=1e-4)
    assert z(0.98) == pytest.approx(2.0537, abs=1e-4)
    assert z(0.5) == 0.0


class TestDynamic:
    def test_service_level_and_cover_days(self) -> None:
        # SS  = ⌈1.6449 · 4 · √9⌉ = ⌈19.74⌉ = 20
        # ROP = ⌈10 · 9⌉ + 20 = 90 + 20 = 110
        # OUT = 110 + ⌈7 · 10⌉ = 180
        demand = DemandEstimate(mean_daily=10.0, var_daily=16.0)
        assert levels(dynamic(), demand, 9) == Levels(20, 110, 180)

    def test_a_98_percent_service_level_with_a_fixed_extra(self) -> None:
        # SS  = ⌈2.0537 · 1.5 · √14⌉ = ⌈2.0537 · 1.5 · 3.7417⌉ = ⌈11.53⌉ = 12
        # ROP = ⌈2.5 · 14⌉ + 12 = 35 + 12 = 47
        # OUT = 47 + 20 = 67
        policy = dynamic(service_level=0.98, cover_days=None, order_up_to_extra=20)
        demand = DemandEstimate(mean_daily=2.5, var_daily=2.25)
        assert levels(policy, demand, 14) == Levels(12, 47, 67)

    def test_a_fixed_safety_stock_replaces_the_service_level(self) -> None:
        # SS  = 30 (fixed; sigma plays no part)
        # ROP = ⌈3.2 · 7⌉ + 30 = ⌈22.4⌉ + 30 = 53
        # OUT = 53 + ⌈3.5 · 3.2⌉ = 53 + ⌈11.2⌉ = 65
        policy = dynamic(service_level=None, safety_stock=30, cover_days=3.5)
        demand = DemandEstimate(mean_daily=3.2, var_daily=100.0)
        assert levels(policy, demand, 7) == Levels(30, 53, 65)

    def test_float_noise_does_not_add_a_unit(self) -> None:
        # 2.2 · 25 = 55.00000000000001 in floats; the reorder point is 55, not 56
        assert 2.2 * 25 > 55
        policy = dynamic(service_level=None, safety_stock=0, cover_days=None, order_up_to_extra=0)
        demand = DemandEstimate(mean_daily=2.2, var_daily=0.0)
        assert levels(policy, demand, 25) == Levels(0, 55, 55)

    def test_no_demand_gives_zero_levels(self) -> None:
        assert levels(dynamic(), DemandEstimate(0.0, 0.0), 9) == Levels(0, 0, 0)

    def test_a_zero_lead_time_needs_no_safety_stock(self) -> None:
        # SS = ⌈1.6449 · 4 · 0⌉ = 0; ROP = 0; OUT = 0 + ⌈7 · 10⌉ = 70
        assert levels(dynamic(), DemandEstimate(10.0, 16.0), 0) == Levels(0, 0, 70)

    @pytest.mark.parametrize(
        "fields",
        [
            {"service_level": None},  # neither service_level nor safety_stock
            {"safety_stock": 5},  # both
            {"cover_days": None},  # neither cover_days nor order_up_to_extra
            {"order_up_to_extra": 5},  # both
            {"service_level": 1.0},
            {"service_level": 0.4},
            {"case_pack": 0},
        ],
    )
    def test_an_incoherent_policy_is_refused(self, fields: dict[str, object]) -> None:
        with pytest.raises(ValueError, match=r"exactly one|service_level|case_pack"):
            dynamic(**fields)

    def test_zero_cover_days_orders_up_to_the_reorder_point(self) -> None:
        # SS = ⌈1.6449 · 4 · √9⌉ = 20; ROP = 90 + 20 = 110; OUT = 110 + ⌈0 · 10⌉ = 110
        assert levels(dynamic(cover_days=0.0), DemandEstimate(10.0, 16.0), 9) == (
            Levels(20, 110, 110)
        )

    @pytest.mark.parametrize(
        ("fields", "message"),
        [
            ({"service_level": None}, "give exactly one of service_level and safety_stock"),
            ({"safety_stock": 5}, "give exactly one of service_level and safety_stock"),
            ({"cover_days": None}, "give exactly one of cover_days and order_up_to_extra"),
            ({"order_up_to_extra": 5}, "give exactly one of cover_days and order_up_to_extra"),
            ({"service_level": 1.0}, r"service_level must be in \[0\.5, 1\)"),
            ({"initial_daily_demand": -0.5}, "initial_daily_demand must be >= 0"),
            (
                {"service_level": None, "safety_stock": -1},
                "safety_stock, cover_days and order_up_to_extra must be >= 0",
            ),
            ({"cover_days": -1.0}, "safety_stock, cover_days and order_up_to_extra must be >= 0"),
            (
                {"cover_days": None, "order_up_to_extra": -1},
                "safety_stock, cover_days and order_up_to_extra must be >= 0",
            ),
            ({"case_pack": 0}, "supplier_lead_time_days, case_pack and moq must be >= 1"),
            ({"moq": 0}, "supplier_lead_time_days, case_pack and moq must be >= 1"),
            ({"buffer": -1}, "buffer must be >= 0"),
        ],
    )
    def test_the_refusal_says_what_to_fix(self, fields: dict[str, object], message: str) -> None:
        with pytest.raises(ValueError, match=f"^{message}$"):
            dynamic(**fields)

    def test_a_prior_is_the_initial_daily_demand_when_there_is_one(self) -> None:
        assert prior_of(dynamic(initial_daily_demand=0.5)) == 0.5
        assert prior_of(dynamic()) is None  # 0: no prior, the estimate starts from history
        static = StaticPolicy(reorder_point=1, order_up_to=2, supplier_lead_time_days=1)
        assert prior_of(static) is None


class TestStatic:
    def test_levels_are_the_given_numbers_whatever_the_demand(self) -> None:
        policy = StaticPolicy(reorder_point=10, order_up_to=40, safety_stock=4,
                              supplier_lead_time_days=28)  # fmt: skip
        assert levels(policy, DemandEstimate(500.0, 9e4), 28) == Levels(4, 10, 40)

    def test_reorder_point_above_order_up_to_is_refused(self) -> None:
        with pytest.raises(ValueError, match="reorder_point <= order_up_to"):
            StaticPolicy(reorder_point=50, order_up_to=40, supplier_lead_time_days=28)

    @pytest.mark.parametrize(
        ("fields", "message"),
        [
            ({"reorder_point": -1}, "need 0 <= reorder_point <= order_up_to"),
            ({"safety_stock": -1}, "safety_stock must be >= 0"),
            ({"supplier_lead_time_days": 0}, "supplier_lead_time_days, case_pack and moq"),
            ({"buffer": -1}, "buffer must be >= 0"),
        ],
    )
    def test_the_refusal_says_what_to_fix(self, fields: dict[str, object], message: str) -> None:
        terms: dict[str, object] = {"reorder_point": 10, "order_up_to": 40}
        with pytest.raises(ValueError, match=f"^{message}"):
            StaticPolicy(**{**terms, "supplier_lead_time_days": 28, **fields})  # type: ignore[arg-type]

    def test_a_one_day_lead_time_is_taken(self) -> None:
        policy = StaticPolicy(reorder_point=0, order_up_to=0, supplier_lead_time_days=1)
        assert levels(policy, DemandEstimate(0.0, 0.0), 1) == Levels(0, 0, 0)


def test_a_negative_lead_time_is_refused() -> None:
    with pytest.raises(ValueError, match="lead_time_days"):
        levels(dynamic(), DemandEstimate(1.0, 1.0), -1)


def test_whole_units_rounds_up_and_floors_at_zero() -> None:
    assert [whole_units(q) for q in (0.0, 0.2, 1.0, 1.000000000001, 3.0000000002, 19.74, -3.0)] == [
        0, 1, 1, 1, 3, 20, 0,
    ]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    mean=st.floats(0, 1e4),
    var=st.floats(0, 1e6),
    service_level=st.floats(0.5, 0.999),
    cover_days=st.floats(0.1, 60),
    lead_time=st.integers(0, 120),
)
def test_dynamic_levels_are_ordered_and_cover_the_mean_lead_time_demand(
    mean: float, var: float, service_level: float, cover_days: float, lead_time: int
) -> None:
    policy = dynamic(service_level=service_level, cover_days=cover_days)
    result = levels(policy, DemandEstimate(mean, var), lead_time)
    assert 0 <= result.safety_stock <= result.reorder_point <= result.order_up_to
    assert result.reorder_point >= mean * lead_time - 1e-6
    expected_ss = z(service_level) * math.sqrt(var) * math.sqrt(lead_time)
    assert expected_ss - 1e-6 <= result.safety_stock < expected_ss + 1 + 1e-6
