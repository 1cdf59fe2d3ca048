"""Signals the simulator decides by itself when no stockline worker answers (the open loop).

The same review as stockline's (`stockline.domain.signals.review`), on the simulator's own
positions, with levels from the demand the model expects (mean = expected units per day,
variance = mean · mean units per request, as for a compound Poisson stream).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from stockline.contracts.signals import SignalRecord, record
from stockline.domain.demand import DemandEstimate
from stockline.domain.network import Network
from stockline.domain.policy import Levels, levels
from stockline.domain.signals import RebalanceSignal, ReviewMark, review
from stockline.simulation.closed_loop import REBALANCE, REORDER
from stockline.simulation.model import DemandModel, SkuSpec
from stockline.simulation.stock import StockBook


@dataclass
class InternalPlanner:
    """Each `decide` is one daily review of every (node, sku) of the catalogue."""

    demand: DemandModel
    marks: dict[str, dict[str, ReviewMark]] = field(default_factory=dict)
    _day: int = 0
    _levels: dict[str, dict[str, Levels]] = field(default_factory=dict)

    @property
    def network(self) -> Network:
        return self.demand.network

    def decide(self, book: StockBook, as_of: str) -> list[tuple[str, SignalRecord]]:
        """The signals of the next review day, as the worker's daily review would decide."""
        out: list[tuple[str, SignalRecord]] = []
        nodes = [n.node_id for n in self.network.nodes]
        for spec in self.demand.catalogue:
            node_levels = self._levels_of(spec, nodes)
            stock = {n: book.stock((n, spec.sku)) for n in nodes}
            marks = self.marks.setdefault(spec.sku, {})
            result = review(
                spec.sku, stock, node_levels, self.network, marks, day=self._day, as_of=as_of
            )
            marks.update(result.marks)
            for signal in result.signals:
                kind = REBALANCE if isinstance(signal, RebalanceSignal) else REORDER
                out.append((kind, record(signal)))
        self._day += 1
        return out

    def levels_of(self, spec: SkuSpec) -> dict[str, Levels]:
        """The levels of `spec` at every node (cached: the expected demand never changes)."""
        return self._levels_of(spec, [n.node_id for n in self.network.nodes])

    def _levels_of(self, spec: SkuSpec, nodes: Sequence[str]) -> dict[str, Levels]:
        if spec.sku not in self._levels:
            self._levels[spec.sku] = {n: self._level(spec, n) for n in nodes}
        return self._levels[spec.sku]

    def _level(self, spec: SkuSpec, node_id: str) -> Levels:
        mean = self.demand.expected_daily(node_id, spec)
        estimate = DemandEstimate(mean, mean * self.demand.mean_units(spec.sku_class))
        policy = self.network.policy_for(spec.sku, node_id)
        return levels(policy, estimate, policy.supplier_lead_time_days)
