"""The report's numbers, from what the simulator counted while it ran (pure arithmetic).

The headline KPIs are those of the steady state: the days after `warmup_days` (the
opening stock and pipeline settling; 0 counts every day). `run_fill_rate` is the fill rate
over every day, `weekly_fill_rate` per week of seven simulated days from day 0.

- fill_rate (= steady_fill_rate): units promised (a hold placed for an order, or a walk-in
  sale, at a node whose ATP covered the request) / units requested. A hold abandoned at
  checkout still counts as promised: the stock was there, the customer left.
- refused_rate: share of requests no candidate node could promise in full.
- stockout_rate: share of (node, sku, day) ending the day with zero ATP.
- avg_promise_distance: mean promise distance of promised requests (0 a hub or store in the
  customer's region, 1 the region's DC, 2 another region).
- avg_lane_days: mean transit days of the transfers received.
- turns: units shipped to customers / average end-of-day on_hand; also per node kind.
  carrying_units: average end-of-day on_hand per node kind.
- holds_placed, holds_committed, holds_released, holds_expired (whole run): the
  storefront's holds, and how they ended: committed by their order, released at an
  abandoned checkout, or left to expire. Holds still open at the end are in none of the last
  three.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields, replace


@dataclass
class Counts:
    """Running sums; subtracting the sums at the end of the warm-up gives the steady state."""

    requested_units: int = 0
    promised_units: int = 0
    requests: int = 0
    refused_requests: int = 0
    distance_sum: int = 0
    transfers_received: int = 0
    lane_days_sum: int = 0
    node_sku_days: int = 0
    stockout_days: int = 0
    shipped_units: Counter[str] = field(default_factory=Counter)
    on_hand_days: Counter[str] = field(default_factory=Counter)

    def copy(self) -> Counts:
        return replace(self, shipped_units=Counter(self.shipped_units),
                       on_hand_days=Counter(self.on_hand_days))  # fmt: skip

    def since(self, earlier: Counts) -> Counts:
        """What was counted after `earlier` (a copy taken before)."""
        out = Counts()
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(earlier, f.name)
            if isinstance(mine, Counter):
                setattr(out, f.name, Counter({k: mine[k] - theirs[k] for k in mine}))
            else:
                setattr(out, f.name, mine - theirs)
        return out


@dataclass
class Tally:
    """Counters the generator keeps; `close_day` records one end-of-day stock picture.
    The counts at the end of day `warmup_days - 1` are kept to tell the steady state."""

    counts: Counts = field(default_factory=Counts)
    warmup_days: int = 0
    asns: int = 0
    asns_received: int = 0
    transfers: int = 0
    signals_ignored: int = 0
    lost_sales: int = 0
    holds_placed: int = 0
    holds_committed: int = 0
    holds_released: int = 0
    holds_expired: int = 0
    daily_fill: list[float] = field(default_factory=list)
    daily_requested: list[int] = field(default_factory=list)
    daily_promised: list[int] = field(default_factory=list)
    daily_on_hand: list[int] = field(default_factory=list)
    at_warmup: Counts = field(default_factory=Counts)
    _day_requested: int = 0
    _day_promised: int = 0

    @property
    def shipped_units(self) -> Counter[str]:
        return self.counts.shipped_units

    def request(self, units: int, promised: bool, distance: int = 0) -> None:
        c = self.counts
        c.requests += 1
        c.requested_units += units
        self._day_requested += units
        if promised:
            c.promised_units += units
            self._day_promised += units
            c.distance_sum += distance
        else:
            c.refused_requests += 1

    def transfer_received(self, lane_days: int) -> None:
        self.counts.transfers_received += 1
        self.counts.lane_days_sum += lane_days

    def close_day(self, atp_by_key: list[int], on_hand_by_kind: dict[str, int]) -> None:
        """End of a simulated day: every stocked (node, sku)'s ATP, on_hand per node kind."""
        c = self.counts
        c.node_sku_days += len(atp_by_key)
        c.stockout_days += sum(1 for atp in atp_by_key if atp <= 0)
        c.on_hand_days.update(on_hand_by_kind)
        self.daily_fill.append(_ratio(self._day_promised, self._day_requested))
        self.daily_requested.append(self._day_requested)
        self.daily_promised.append(self._day_promised)
        self.daily_on_hand.append(sum(on_hand_by_kind.values()))
        self._day_requested = self._day_promised = 0
        if len(self.daily_fill) == self.warmup_days:
            self.at_warmup = c.copy()


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
    """Sum over (node, sku) of |on_hand|, |reserved|, |inbound|, |held| differences between the
    simulator's book and stockline's last ATP snapshot; None when not compared."""
    warmup_days: int = 0
    steady_fill_rate: float = 0.0
    worst_steady_day: float = 0.0
    """The lowest daily fill rate after the warm-up."""
    run_fill_rate: float = 0.0
    weekly_fill_rate: list[float] = field(default_factory=list)
    lost_sales: int = 0
    holds_placed: int = 0
    holds_committed: int = 0
    holds_released: int = 0
    holds_expired: int = 0


def compute(tally: Tally, days: int, divergence_units: int | None = None) -> Kpis:
    """The KPIs of a run of `days` closed days; the headline ones over the steady state."""
    warmup = tally.warmup_days if 0 < tally.warmup_days < days else 0
    steady = tally.counts.since(tally.at_warmup) if warmup else tally.counts
    span = days - warmup
    carrying = {k: v / span if span else 0.0 for k, v in sorted(steady.on_hand_days.items())}
    shipped = sum(steady.shipped_units.values())
    fill = _ratio(steady.promised_units, steady.requested_units)
    run = tally.counts
    return Kpis(
        days=days,
        fill_rate=fill,
        refused_rate=_ratio(steady.refused_requests, steady.requests),
        stockout_rate=_ratio(steady.stockout_days, steady.node_sku_days),
        avg_promise_distance=_ratio(steady.distance_sum, steady.requests - steady.refused_requests),
        avg_lane_days=_ratio(steady.lane_days_sum, steady.transfers_received),
        turns=_ratio(shipped, sum(carrying.values())),
        turns_by_kind={k: _ratio(steady.shipped_units[k], v) for k, v in carrying.items()},
        carrying_units=carrying,
        asns=tally.asns,
        transfers=tally.transfers,
        signals_ignored=tally.signals_ignored,
        daily_fill=list(tally.daily_fill),
        daily_on_hand=list(tally.daily_on_hand),
        divergence_units=divergence_units,
        warmup_days=warmup,
        steady_fill_rate=fill,
        worst_steady_day=min(tally.daily_fill[warmup:days], default=0.0),
        run_fill_rate=_ratio(run.promised_units, run.requested_units),
        weekly_fill_rate=_weekly(tally),
        lost_sales=tally.lost_sales,
        holds_placed=tally.holds_placed,
        holds_committed=tally.holds_committed,
        holds_released=tally.holds_released,
        holds_expired=tally.holds_expired,
    )


def _weekly(tally: Tally) -> list[float]:
    out = []
    for start in range(0, len(tally.daily_requested), 7):
        requested = sum(tally.daily_requested[start : start + 7])
        out.append(_ratio(sum(tally.daily_promised[start : start + 7]), requested))
    return out


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0
