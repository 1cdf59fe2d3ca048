"""Levels, channel totals and reorder/rebalance signals for a SKU snapshot (DESIGN.md §5).

A node the network file does not list has no policy: buffer and safety_stock 0, no
channel, no signal. Without a network file at all, every node is such a node.

Signals are decided only when a SKU's stock changes (a snapshot), since only then can a
position cross its reorder point; levels move with the daily demand estimate, and a level
change alone waits for the SKU's next event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from stockline.domain.demand import estimate
from stockline.domain.effects import day_of
from stockline.domain.network import Network
from stockline.domain.policy import Levels, levels
from stockline.domain.signals import Signal, decide
from stockline.service_layer.ports import SkuSnapshot


@dataclass(frozen=True, slots=True)
class SkuPlan:
    """What planning concluded for one SKU snapshot."""

    sku: str
    levels: Mapping[str, Levels]
    signals: list[Signal] = field(default_factory=list)
    armed: Mapping[str, bool] = field(default_factory=dict)
    """Every planned node's armed state after this decision."""

    def safety_stock(self, node_id: str) -> int:
        node_levels = self.levels.get(node_id)
        return node_levels.safety_stock if node_levels else 0


@dataclass(frozen=True)
class Planner:
    network: Network | None = None
    alpha: float = 0.2
    horizon_days: int = 28

    @property
    def enabled(self) -> bool:
        """Planning runs (and needs each changed SKU's full snapshot) with a network file."""
        return self.network is not None

    def plan(self, snapshot: SkuSnapshot, now_us: int, as_of: str) -> SkuPlan:
        """Levels of every planned node, then one decision per node (see signals.decide)."""
        node_levels = self._levels(snapshot, day_of(now_us))
        if self.network is None or not node_levels:
            return SkuPlan(snapshot.sku, node_levels)
        positions = {n: snapshot.nodes[n].position() for n in node_levels}
        signals: list[Signal] = []
        armed: dict[str, bool] = {}
        for node_id in sorted(node_levels):
            signal, armed[node_id] = decide(
                snapshot.sku,
                node_id,
                positions,
                node_levels,
                self.network,
                snapshot.armed.get(node_id, True),
                version=snapshot.version,
                as_of=as_of,
            )
            if signal is not None:
                signals.append(signal)
        return SkuPlan(snapshot.sku, node_levels, signals, armed)

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
            demand = estimate(buckets, today, self.alpha, self.horizon_days)
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
