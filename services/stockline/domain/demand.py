"""Daily demand per (node, sku) and its exponentially weighted estimate (DESIGN.md section 5).

What counts as demand is decided once, in `effects.effects_of` (its `Demand` effect), and
the ledger and the Redis script record exactly that:

- `lost_sale` is demand of its qty at its node: a request refused there for lack of
  stock, so a stock-out does not read as a fall in demand (censored demand).
- `order_placed` is demand of its qty at its node, on the UTC day it occurred. A later
  `order_cancelled` does not take it back: the customer asked for the units at that node
  that day, and a cancelled order is often placed again elsewhere.
- A `pick` WITHOUT an order_id (a walk-in sale, a pick no order announced) is demand of its
  qty. A pick WITH an order_id fulfils an order line whose `order_placed` is already counted,
  so counting it too would count the same units twice.
- Nothing else is demand: receipts, counts, adjustments and transfers move stock, not need.

Buckets map a UTC day number (`effects.day_of`) to units. They are sums over distinct events,
so the estimate below, a pure function of the buckets, is a pure function of the SET of
events: any arrival order and any number of redeliveries give the same estimate.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from stockline.domain.effects import Demand, effects_of
from stockline.domain.events import InventoryEvent

Buckets = Mapping[int, int]
"""Units demanded per UTC day number at one (node, sku)."""


@dataclass(frozen=True, slots=True)
class DemandEstimate:
    """Mean and variance of units demanded per day; `sigma_daily` is the standard deviation."""

    mean_daily: float
    var_daily: float

    @property
    def sigma_daily(self) -> float:
        return math.sqrt(self.var_daily)


def daily_buckets(events: Iterable[InventoryEvent]) -> dict[tuple[str, str], dict[int, int]]:
    """Demand buckets per (node_id, sku) of a set of events.

    An event_id seen again is skipped, as the ledger skips it, so delivering an event twice
    counts its demand once. Pairs with no demand are left out.
    """
    buckets: dict[tuple[str, str], dict[int, int]] = {}
    seen: set[str] = set()
    for event in events:
        if event.event_id in seen:
            continue
        seen.add(event.event_id)
        for effect in effects_of(event):
            if isinstance(effect, Demand):
                days = buckets.setdefault((effect.node_id, event.sku), {})
                days[effect.day] = days.get(effect.day, 0) + effect.units
    return buckets


def estimate(
    buckets: Buckets,
    today: int,
    alpha: float,
    horizon_days: int,
    prior: float | None = None,
) -> DemandEstimate:
    """The exponentially weighted mean and variance of daily demand before `today`.

    The window is the `horizon_days` complete days `today - horizon_days ... today - 1`, in
    day order; `today` is still open and is left out, as are days after it. A day with no
    bucket is a day of zero demand. The first day of the window starts the estimate
    (mean = its units, variance = 0); each later day x updates it in the standard
    incremental form (West 1979; Finch 2009):

        delta    = x - mean
        mean     = mean + alpha * delta
        variance = (1 - alpha) * (variance + alpha * delta**2)

    so a day k days old weighs about alpha * (1 - alpha)**k. The same buckets always give
    the same floats: the days are visited in one fixed order.

    With a `prior` (units per day, for a SKU without history): the estimate starts at
    mean = variance = prior (as for Poisson demand) and the update runs over the window's
    days from the node's first day with a bucket on (days before any demand are no
    history, not zero demand); with no bucket before `today` at all it is the prior.

    Raises ValueError unless 0 < alpha <= 1, horizon_days >= 1 and prior >= 0.
    """
    if not 0 < alpha <= 1:
        raise ValueError(f"alpha must be in (0, 1], got {alpha}")
    if horizon_days < 1:
        raise ValueError(f"horizon_days must be at least 1, got {horizon_days}")
    first = today - horizon_days
    if prior is not None:
        return _from_prior(buckets, first, today, alpha, prior)
    mean, variance = float(buckets.get(first, 0)), 0.0
    return _update(buckets, first + 1, today, alpha, mean, variance)


def _from_prior(
    buckets: Buckets, first: int, today: int, alpha: float, prior: float
) -> DemandEstimate:
    if prior < 0:
        raise ValueError(f"prior must be >= 0, got {prior}")
    seen = [day for day in buckets if day < today]
    start = max(first, min(seen)) if seen else today
    return _update(buckets, start, today, alpha, prior, prior)


def _update(
    buckets: Buckets, start: int, end: int, alpha: float, mean: float, variance: float
) -> DemandEstimate:
    for day in range(start, end):
        delta = buckets.get(day, 0) - mean
        mean += alpha * delta
        variance = (1 - alpha) * (variance + alpha * delta * delta)
    return DemandEstimate(mean_daily=mean, var_daily=variance)
