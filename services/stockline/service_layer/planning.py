"""Levels, channel totals and the daily review of a SKU snapshot (DESIGN.md section 5).

A node the network file does not list has no policy: buffer and safety_stock 0, no
channel, no signal. Without a network file at all, every node is such a node.

Planning's "today" is the SKU's event clock (the day of the latest occurred_at it has
seen), so a replay, a rebuild or a simulation plans on the day production planned on. A
review is run when a SKU's stock changes (a batch) and by the daily sweep
(`service_layer.review`), which passes its own review day: the later of the two counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from stockline.domain.demand import estimate
from stockline.domain.effects import day_of
from stockline.domain.network import Network
from stockline.domain.policy import Levels, levels, prior_of
from stockline.domain.signals import ReviewMark, Signal, review
from stockline.service_layer.ports import PlanMarks, SkuSnapshot


@dataclass(frozen=True, slots=True)
class SkuPlan:
    """What planning concluded for one SKU snapshot on review day `day`."""

    sku: str
    levels: Mapping[str, Levels]
    signals: tuple[Signal, ...] = ()
    marks: Mapping[str, ReviewMark] = field(default_factory=dict)
    """The review marks this review changed (to store after the signals are out)."""
    day: int = 0

    def safety_stock(self, node_id: str) -> int:
        node_levels = self.levels.get(node_id)
        return node_levels.safety_stock if node_levels else 0

    def plan_marks(self) -> PlanMarks:
        """What the store keeps of this plan: the changed review marks, and the safety
        stock of every planned node (a planning level the read API shows)."""
        safety = {node: lv.safety_stock for node, lv in self.levels.items()}
        return PlanMarks(self.sku, self.marks, safety)


@dataclass(frozen=True)
class Planner:
    network: Network | None = None
    alpha: float = 0.1
    horizon_days: int = 28

    @property
    def enabled(self) -> bool:
        """Planning runs (and needs each changed SKU's full snapshot) with a network file."""
        return self.network is not None

    def review_day(self, snapshot: SkuSnapshot, review_day: int | None = None) -> int:
        """The day a review of `snapshot` plans on: its event clock's day, or `review_day`
        (a sweep's) when that is later."""
        today = day_of(snapshot.latest_us)
        return today if review_day is None else max(today, review_day)

    def plan(self, snapshot: SkuSnapshot, as_of: str, *, review_day: int | None = None) -> SkuPlan:
        """Levels of every planned node on the review day, then the review (signals.review)."""
        today = self.review_day(snapshot, review_day)
        node_levels = self._levels(snapshot, today)
        if self.network is None or not node_levels:
            return SkuPlan(snapshot.sku, node_levels, day=today)
        result = review(
            snapshot.sku,
            snapshot.nodes,
            node_levels,
            self.network,
            snapshot.reviews,
            day=today,
            as_of=as_of,
        )
        return SkuPlan(snapshot.sku, node_levels, result.signals, result.marks, today)

    @property
    def view(self) -> PolicyView:
        return PolicyView(self.network)

    def _levels(self, snapshot: SkuSnapshot, today: int) -> dict[str, Levels]:
        if self.network is None:
            return {}
        out: dict[str, Levels] = {}
        for node_id in snapshot.nodes:
            if not self._planned(node_id):
                continue
            policy = self.network.policy_for(snapshot.sku, node_id)
            buckets = snapshot.demand.get(node_id, {})
            prior = prior_of(policy)
            demand = estimate(buckets, today, self.alpha, self.horizon_days, prior)
            out[node_id] = levels(policy, demand, policy.supplier_lead_time_days)
        return out

    def _planned(self, node_id: str) -> bool:
        return _listed(self.network, node_id)


@dataclass(frozen=True)
class PolicyView:
    """The network file seen by the ledger step and the read side: channels per node, the
    policy's buffer (units never promised), and its own safety stock (a fixed one; a
    demand-driven one is 0 until planning has stored it with the ledger)."""

    network: Network | None = None

    def channels_of(self, node_id: str) -> frozenset[str]:
        if self.network is None or not _listed(self.network, node_id):
            return frozenset()
        return self.network.channels_of(node_id)

    def safety_stock(self, node_id: str, sku: str) -> int:
        if self.network is None or not _listed(self.network, node_id):
            return 0
        return self.network.policy_for(sku, node_id).safety_stock or 0

    def buffer(self, node_id: str, sku: str) -> int:
        if self.network is None or not _listed(self.network, node_id):
            return 0
        return self.network.policy_for(sku, node_id).buffer


def _listed(network: Network | None, node_id: str) -> bool:
    if network is None:
        return False
    try:
        network.node(node_id)
    except KeyError:
        return False
    return True
