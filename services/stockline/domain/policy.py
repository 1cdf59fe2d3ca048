"""Stock policies of a (node, sku) and the levels they set (DESIGN.md section 5).

A policy is static (min-max: reorder_point and order_up_to given in units) or dynamic
(levels follow the demand estimate):

    safety_stock  = ⌈z(service_level) · sigma_daily · √lead_time_days⌉   (or a fixed number)
    reorder_point = ⌈mean_daily · lead_time_days⌉ + safety_stock
    order_up_to   = reorder_point + ⌈cover_days · mean_daily⌉        (or + order_up_to_extra)

z is the standard normal quantile (`statistics.NormalDist().inv_cdf`). Levels are whole
units rounded UP, so a fractional need is covered rather than dropped; reorder_point is
⌈mean_daily · lead_time_days + safety_stock⌉, the same number since safety_stock is whole.
A product within 1e-9 of a whole number counts as that number, so float noise such as
30.000000000000004 does not add a unit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

from stockline.domain.demand import DemandEstimate

_NORMAL = NormalDist()


@dataclass(frozen=True, slots=True, kw_only=True)
class StaticPolicy:
    """Min-max: reorder when position ≤ reorder_point, order up to order_up_to.

    The levels do not depend on demand; `safety_stock` is a planning level shown beside
    them (DESIGN.md section 3: ATP subtracts only `buffer`).
    """

    reorder_point: int
    order_up_to: int
    safety_stock: int = 0
    supplier_lead_time_days: int
    case_pack: int = 1
    moq: int = 1
    buffer: int = 0
    """Units never promised at the node (ATP subtracts it; planning does not)."""

    def __post_init__(self) -> None:
        _check_terms(self.supplier_lead_time_days, self.case_pack, self.moq, self.buffer)
        if not 0 <= self.reorder_point <= self.order_up_to:
            raise ValueError("need 0 <= reorder_point <= order_up_to")
        if self.safety_stock < 0:
            raise ValueError("safety_stock must be >= 0")


@dataclass(frozen=True, slots=True, kw_only=True)
class DynamicPolicy:
    """Levels from the demand estimate.

    Exactly one of `service_level` (safety_stock from z · sigma_daily · √L) and `safety_stock`
    (fixed units), and exactly one of `cover_days` and `order_up_to_extra`.
    """

    service_level: float | None = None
    safety_stock: int | None = None
    cover_days: float | None = None
    order_up_to_extra: int | None = None
    supplier_lead_time_days: int
    case_pack: int = 1
    moq: int = 1
    buffer: int = 0
    """Units never promised at the node (ATP subtracts it; planning does not)."""
    initial_daily_demand: float = 0.0
    """Units per day assumed where the (node, sku) has no demand history yet (0: none)."""

    def __post_init__(self) -> None:
        _check_terms(self.supplier_lead_time_days, self.case_pack, self.moq, self.buffer)
        if self.initial_daily_demand < 0:
            raise ValueError("initial_daily_demand must be >= 0")
        if (self.service_level is None) == (self.safety_stock is None):
            raise ValueError("give exactly one of service_level and safety_stock")
        if (self.cover_days is None) == (self.order_up_to_extra is None):
            raise ValueError("give exactly one of cover_days and order_up_to_extra")
        if self.service_level is not None and not 0.5 <= self.service_level < 1:
            raise ValueError("service_level must be in [0.5, 1)")
        if min(self.safety_stock or 0, self.cover_days or 0, self.order_up_to_extra or 0) < 0:
            raise ValueError("safety_stock, cover_days and order_up_to_extra must be >= 0")


Policy = StaticPolicy | DynamicPolicy


@dataclass(frozen=True, slots=True)
class Levels:
    """The levels of one (node, sku) in whole units: safety_stock ≤ reorder_point ≤ order_up_to
    for a dynamic policy; a static policy's are as given."""

    safety_stock: int
    reorder_point: int
    order_up_to: int


def levels(policy: Policy, demand: DemandEstimate, lead_time_days: float) -> Levels:
    """The levels `policy` sets for `demand` over `lead_time_days` (see the module docstring).

    A static policy ignores demand and lead time. The caller chooses the lead time: the
    policy's `supplier_lead_time_days` for supplier orders, or a lane's transit days.
    Raises ValueError for a negative lead time.
    """
    if lead_time_days < 0:
        raise ValueError(f"lead_time_days must be >= 0, got {lead_time_days}")
    if isinstance(policy, StaticPolicy):
        return Levels(policy.safety_stock, policy.reorder_point, policy.order_up_to)
    safety_stock = _safety_stock(policy, demand, lead_time_days)
    reorder_point = whole_units(demand.mean_daily * lead_time_days) + safety_stock
    if policy.order_up_to_extra is not None:
        return Levels(safety_stock, reorder_point, reorder_point + policy.order_up_to_extra)
    cover = whole_units((policy.cover_days or 0.0) * demand.mean_daily)
    return Levels(safety_stock, reorder_point, reorder_point + cover)


def prior_of(policy: Policy) -> float | None:
    """The demand a (node, sku) without history starts from (None: no prior, see
    `demand.estimate`)."""
    if isinstance(policy, DynamicPolicy) and policy.initial_daily_demand > 0:
        return policy.initial_daily_demand
    return None


def z(service_level: float) -> float:
    """The standard normal quantile: z(0.95) = 1.6449, z(0.98) = 2.0537."""
    return _NORMAL.inv_cdf(service_level)


def whole_units(quantity: float) -> int:
    """`quantity` rounded up to a whole unit, never below 0 (1e-9 absorbs float noise)."""
    return max(0, math.ceil(round(quantity, 9)))


def _safety_stock(policy: DynamicPolicy, demand: DemandEstimate, lead_time_days: float) -> int:
    if policy.safety_stock is not None:
        return policy.safety_stock
    service_level = policy.service_level or 0.5
    return whole_units(z(service_level) * demand.sigma_daily * math.sqrt(lead_time_days))


def _check_terms(supplier_lead_time_days: int, case_pack: int, moq: int, buffer: int) -> None:
    if supplier_lead_time_days < 1 or case_pack < 1 or moq < 1:
        raise ValueError("supplier_lead_time_days, case_pack and moq must be >= 1")
    if buffer < 0:
        raise ValueError("buffer must be >= 0")
