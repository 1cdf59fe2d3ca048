"""The synthetic world: a SKU catalogue with Zipf popularity, regional demand with daily and
weekly seasonality, order routing, and the clocks that stamp simulated time.

Simulated time is integer microseconds from the start of simulated day 0 (a Monday, so the
weekly profile does not depend on the date a run happens). Everything here is a pure
function of the network file and the arguments.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Final, Protocol

from stockline.domain.network import Network, NodeKind, SkuClass

HOUR_US: Final = 3_600_000_000
DAY_US: Final = 24 * HOUR_US
COUNT_MAX_AGE_US: Final = 6 * DAY_US
"""Cycle counts older than this (real time) are not generated: stockline rejects counts
older than its 7-day retention window, and a day of margin covers a long run."""

HOURLY: Final = (
    0.2, 0.1, 0.1, 0.1, 0.2, 0.4, 0.7, 1.0, 1.3, 1.5, 1.6, 1.7,
    1.8, 1.7, 1.5, 1.4, 1.4, 1.5, 1.7, 1.9, 1.8, 1.3, 0.8, 0.4,
)  # fmt: skip
"""Relative demand per hour of day: a quiet night, a lunchtime and an evening peak."""
WEEKLY: Final = (0.9, 0.9, 0.95, 1.0, 1.1, 1.35, 1.2)
"""Relative demand per weekday, Monday first: weekends sell more."""
CHANNEL_MIX: Final = (("web", 0.6), ("store-pickup", 0.2), ("walk-in", 0.2))
"""Share of customer requests per channel; walk-in is a store sale without an order."""
CLASS_BANDS: Final = ((SkuClass.A, 0.2), (SkuClass.B, 0.3), (SkuClass.C, 0.5))
"""Share of the catalogue in each class, most popular first (the usual ABC split)."""
MEAN_EXTRA_UNITS: Final = {SkuClass.A: 0.2, SkuClass.B: 0.5, SkuClass.C: 1.5}
"""Units per request are 1 + a geometric number with this mean."""


@dataclass(frozen=True, slots=True)
class SkuSpec:
    sku: str
    rank: int
    sku_class: SkuClass
    weight: float
    """Share of all requests that ask for this SKU (Zipf); the weights sum to 1."""


def zipf_weights(n: int, exponent: float) -> list[float]:
    """Normalised Zipf weights of ranks 1..n: weight(r) ∝ 1 / r^exponent."""
    raw = [1.0 / (rank**exponent) for rank in range(1, n + 1)]
    total = sum(raw)
    return [w / total for w in raw]


def build_catalogue(network: Network, n_skus: int, exponent: float, tag: str) -> list[SkuSpec]:
    """`n_skus` SKUs, most popular first, named so the network's class rules give the top 20%
    class A, the next 30% B and the rest C (e.g. `TV-001-<tag>`); when the file has no prefix
    for a class, the SKU takes whatever class the rules give it."""
    weights = zipf_weights(n_skus, exponent)
    catalogue = []
    for rank, weight in enumerate(weights, start=1):
        wanted = _band(rank, n_skus)
        prefixes = _prefixes_for(network, wanted)
        prefix = prefixes[rank % len(prefixes)] if prefixes else "SIM-"
        sku = f"{prefix}{rank:03d}-{tag}"
        catalogue.append(SkuSpec(sku, rank, network.class_of(sku), weight))
    return catalogue


def _band(rank: int, n: int) -> SkuClass:
    cumulative = 0.0
    for sku_class, share in CLASS_BANDS:
        cumulative += share
        if rank <= math.ceil(cumulative * n - 1e-9):
            return sku_class
    return SkuClass.C


def _prefixes_for(network: Network, wanted: SkuClass) -> list[str]:
    candidates = [*sorted(network.classes.prefixes), "SIM-"]
    return [p for p in candidates if network.class_of(f"{p}001-x") is wanted]


@dataclass(frozen=True, slots=True)
class Route:
    """Where a request of one channel from one region may be served, best first."""

    node_ids: tuple[str, ...]
    distances: tuple[int, ...]
    """Promise distance per node: 0 a hub or store in the region, 1 the region's DC,
    2 another region."""


@dataclass(frozen=True)
class DemandModel:
    """Requests per day across the network, split by region, channel, SKU and hour."""

    network: Network
    catalogue: tuple[SkuSpec, ...]
    daily_requests: float
    region_share: dict[str, float] = field(init=False)

    def __post_init__(self) -> None:
        regions = sorted({n.region for n in self.network.nodes})
        counts = {r: sum(1 for n in self.network.nodes if n.region == r) for r in regions}
        total = sum(counts.values())
        object.__setattr__(self, "region_share", {r: counts[r] / total for r in regions})

    def rate_per_hour(self, day: int, hour: int) -> float:
        """Expected requests in `hour` of simulated `day`."""
        hourly = HOURLY[hour] / sum(HOURLY)
        weekly = WEEKLY[day % 7] / (sum(WEEKLY) / 7)
        return self.daily_requests * weekly * hourly

    def route(self, region: str, channel: str) -> Route:
        """Candidate nodes for `channel` requests from `region`, by promise distance then id.

        Walk-in goes to the region's stores only; store-pickup to the region's nodes that
        serve it; web to every node serving web, nearest first."""
        ranked = sorted(
            (_distance(n.region == region, n.kind), n.node_id)
            for n in self.network.nodes
            if _serves(n.kind, n.channels, channel) and (channel == "web" or n.region == region)
        )
        return Route(tuple(n for _, n in ranked), tuple(d for d, _ in ranked))

    def mean_units(self, sku_class: SkuClass) -> float:
        return 1.0 + MEAN_EXTRA_UNITS[sku_class]

    def expected_daily(self, node_id: str, spec: SkuSpec) -> float:
        """Units per day of `spec` a node sees when every request goes to its nearest
        candidates (split evenly among them): what opening stock and levels assume."""
        units = 0.0
        for region, share in self.region_share.items():
            for channel, mix in CHANNEL_MIX:
                nearest = _nearest(self.route(region, channel))
                if node_id in nearest:
                    units += share * mix / len(nearest)
        return units * self.daily_requests * spec.weight * self.mean_units(spec.sku_class)

    def regional_daily(self, region: str, spec: SkuSpec) -> float:
        """Units per day of `spec` customers in `region` ask for, over all channels."""
        share = self.region_share.get(region, 0.0)
        return share * self.daily_requests * spec.weight * self.mean_units(spec.sku_class)


def _serves(kind: NodeKind, channels: frozenset[str], channel: str) -> bool:
    if channel == "walk-in":
        return kind is NodeKind.STORE
    return channel in channels


def _distance(same_region: bool, kind: NodeKind) -> int:
    if not same_region:
        return 2
    return 1 if kind in (NodeKind.DC, NodeKind.THREE_PL) else 0


def _nearest(route: Route) -> tuple[str, ...]:
    if not route.node_ids:
        return ()
    best = min(route.distances)
    return tuple(n for n, d in zip(route.node_ids, route.distances, strict=True) if d == best)


class Clock(Protocol):
    """Turns simulated time into an event's `occurred_us` (real microseconds)."""

    def stamp(self, sim_us: int) -> int: ...

    def counts_allowed(self, sim_us: int) -> bool:
        """Whether a cycle count at `sim_us` is young enough for stockline to accept."""
        ...


@dataclass(frozen=True, slots=True)
class WindowClock:
    """Maps simulated day 0 onto the UTC midnight `start_us` (real time, in the past), so
    simulated days are stockline's UTC demand days. Stamps are in the past as long as the
    run covers no more days than lie between `start_us` and `now_us`."""

    start_us: int
    now_us: int

    @classmethod
    def ending_today(cls, days: int, now_us: int | None = None) -> WindowClock:
        """Day 0 at the UTC midnight `days` days before today's: the last simulated day is
        yesterday, and every stamp lies in the past."""
        now = time.time_ns() // 1000 if now_us is None else now_us
        return cls(start_us=(now // DAY_US - days) * DAY_US, now_us=now)

    def stamp(self, sim_us: int) -> int:
        return self.start_us + sim_us

    def counts_allowed(self, sim_us: int) -> bool:
        return self.stamp(sim_us) >= self.now_us - COUNT_MAX_AGE_US


@dataclass(slots=True)
class WallClock:
    """Stamps every event with the real time it is generated (strictly increasing), as a
    live WMS would; simulated time only shapes demand. Used by the open loop."""

    last_us: int = 0

    def stamp(self, sim_us: int) -> int:
        self.last_us = max(self.last_us + 1, time.time_ns() // 1000)
        return self.last_us

    def counts_allowed(self, sim_us: int) -> bool:
        return True
