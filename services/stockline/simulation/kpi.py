"""The report's numbers, from what the simulator counted while it ran (pure arithmetic).

- fill_rate: units promised (an order placed, or a walk-in sale, at a node whose ATP covered
  the request) / units requested.
- refused_rate: share of requests no candidate node could promise in full.
- stockout_rate: share of (node, sku, day) ending the day with zero ATP.
- avg_promise_distance: mean promise distance of promised requests (0 a hub or store in the
  customer's region, 1 the region's DC, 2 another region).
- avg_lane_days: mean transit days of the transfers received.
- turns: units shipped to customers / average end-of-day on_hand, over the run; also per
  node kind. carrying_units: average end-of-day on_hand per node kind.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field


@dataclass
class Tally:
    """Counters the generator keeps; `close_day` records one end-of-day stock picture."""

    requested_units: int = 0
    promised_units: int = 0
    requests: int = 0
    refused_requests: int = 0
    distance_sum: int = 0
    shipped_units: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    transfers_received: int = 0
    lane_days_sum: int = 0
    asns: int = 0
    asns_received: int = 0
    transfers: int = 0
    signals_ignored: int = 0
    node_sku_days: int = 0
    stockout_days: int = 0
    on_hand_days: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    daily_fill: list[float] = field(default_factory=list)
    daily_on_hand: list[int] = field(default_factory=list)
    _day_requested: int = 0
    _day_promised: int = 0

    def request(self, units: int, promised: bool, distance: int = 0) -> None:
        self.requests += 1
        self.requested_units += units
        self._day_requested += units
        if promised:
            self.promised_units += units
            self._day_promised += units
            self.distance_sum += distance
        else:
            self.refused_requests += 1

    def close_day(self, atp_by_key: list[int], on_hand_by_kind: dict[str, int]) -> None:
        """End of a simulated day: every stocked (node, sku)'s ATP, on_hand per node kind."""
        self.node_sku_days += len(atp_by_key)
        self.stockout_days += sum(1 for atp in atp_by_key if atp <= 0)
        for kind, units in on_hand_by_kind.items():
            self.on_hand_days[kind] += units
        self.daily_fill.append(_ratio(self._day_promised, self._day_requested))
        self.daily_on_hand.append(sum(on_hand_by_kind.values()))
        self._day_requested = self._day_promised = 0


@dataclass(frozen=True)
class Kpis:
    days: int
    fill_rate: float
    refused_rate: float
    stockout_rate: float
    avg_promise_distance: float
    avg_lane_days: float
    turns: float
    turns_by_kind: dict[str, float]
    carrying_units: dict[str, float]
    asns: int
    transfers: int
    signals_ignored: int
    daily_fill: list[float]
    daily_on_hand: list[int]
    divergence_units: int | None = None
    """Sum over (node, sku) of |on_hand|, |reserved|, |inbound| differences between the
    simulator's book and stockline's last ATP snapshot; None when not compared."""


def compute(tally: Tally, days: int, divergence_units: int | None = None) -> Kpis:
    """The KPIs of a run of `days` closed days."""
    carrying = {k: v / days if days else 0.0 for k, v in sorted(tally.on_hand_days.items())}
    shipped = sum(tally.shipped_units.values())
    return Kpis(
        days=days,
        fill_rate=_ratio(tally.promised_units, tally.requested_units),
        refused_rate=_ratio(tally.refused_requests, tally.requests),
        stockout_rate=_ratio(tally.stockout_days, tally.node_sku_days),
        avg_promise_distance=_ratio(tally.distance_sum, tally.requests - tally.refused_requests),
        avg_lane_days=_ratio(tally.lane_days_sum, tally.transfers_received),
        turns=_ratio(shipped, sum(carrying.values())),
        turns_by_kind={k: _ratio(tally.shipped_units[k], v) for k, v in carrying.items()},
        carrying_units=carrying,
        asns=tally.asns,
        transfers=tally.transfers,
        signals_ignored=tally.signals_ignored,
        daily_fill=list(tally.daily_fill),
        daily_on_hand=list(tally.daily_on_hand),
        divergence_units=divergence_units,
    )


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0
