"""The fulfilment network: nodes, the lanes between them, and the policy of every (sku, node).

Built once at start (adapters/network_file.py reads it from YAML) and read-only after.
Policies resolve most specific first: the (sku, node) override, then the sku override,
then the default of the SKU's class. Overrides arrive here already merged with what they
override, so a lookup is one dictionary hit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from stockline.domain.policy import Policy


class NodeKind(StrEnum):
    DC = "dc"
    MFC = "mfc"  # micro-fulfilment centre
    STORE = "store"
    THREE_PL = "3pl"


class SkuClass(StrEnum):
    A = "A"
    B = "B"
    C = "C"


@dataclass(frozen=True, slots=True)
class Node:
    node_id: str
    kind: NodeKind
    region: str
    channels: frozenset[str]


@dataclass(frozen=True, slots=True)
class Lane:
    """A direct route; at most one per (from_node, to_node), and A→B says nothing of B→A."""

    from_node: str
    to_node: str
    transit_days: int
    cost_per_unit: float


@dataclass(frozen=True, slots=True)
class SkuClasses:
    """A SKU's class: its explicit entry, else its longest matching prefix, else `default`."""

    default: SkuClass
    explicit: Mapping[str, SkuClass] = field(default_factory=dict)
    prefixes: Mapping[str, SkuClass] = field(default_factory=dict)

    def class_of(self, sku: str) -> SkuClass:
        if sku in self.explicit:
            return self.explicit[sku]
        matches = [p for p in self.prefixes if sku.startswith(p)]
        return self.prefixes[max(matches, key=len)] if matches else self.default


@dataclass(frozen=True, slots=True)
class Policies:
    """Class defaults (one per class) and fully resolved overrides."""

    defaults: Mapping[SkuClass, Policy]
    by_sku: Mapping[str, Policy] = field(default_factory=dict)
    by_sku_node: Mapping[tuple[str, str], Policy] = field(default_factory=dict)


@dataclass(frozen=True)
class Network:
    """Nodes, lanes and policies, with lookups. Construction checks that node ids are
    unique, lanes join two different known nodes (one lane per direction), every class
    has a default and every (sku, node) override names a known node (ValueError)."""

    nodes: tuple[Node, ...]
    lanes: tuple[Lane, ...]
    classes: SkuClasses
    policies: Policies
    _by_id: dict[str, Node] = field(init=False, repr=False, compare=False)
    _lanes: dict[tuple[str, str], Lane] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_id = {node.node_id: node for node in self.nodes}
        lanes = {(lane.from_node, lane.to_node): lane for lane in self.lanes}
        object.__setattr__(self, "_by_id", by_id)
        object.__setattr__(self, "_lanes", lanes)
        if problems := _problems(self, by_id, lanes):
            raise ValueError("; ".join(problems))

    def node(self, node_id: str) -> Node:
        """The node; KeyError when the network has no such node."""
        return self._by_id[node_id]

    def channels_of(self, node_id: str) -> frozenset[str]:
        return self.node(node_id).channels

    def nodes_serving(self, channel: str) -> frozenset[str]:
        """Ids of the nodes serving `channel` (empty for an unknown channel)."""
        return frozenset(n.node_id for n in self.nodes if channel in n.channels)

    def class_of(self, sku: str) -> SkuClass:
        return self.classes.class_of(sku)

    def policy_for(self, sku: str, node_id: str) -> Policy:
        """The policy of `sku` at `node_id`; KeyError for an unknown node."""
        self.node(node_id)
        if (sku, node_id) in self.policies.by_sku_node:
            return self.policies.by_sku_node[(sku, node_id)]
        if sku in self.policies.by_sku:
            return self.policies.by_sku[sku]
        return self.policies.defaults[self.class_of(sku)]

    def lanes_from(self, node_id: str) -> tuple[Lane, ...]:
        return tuple(lane for lane in self.lanes if lane.from_node == node_id)

    def lanes_to(self, node_id: str) -> tuple[Lane, ...]:
        return tuple(lane for lane in self.lanes if lane.to_node == node_id)

    def lane(self, from_node: str, to_node: str) -> Lane | None:
        """The lane from `from_node` to `to_node`, or None when there is none."""
        return self._lanes.get((from_node, to_node))


def _problems(
    network: Network, by_id: Mapping[str, Node], lanes: Mapping[tuple[str, str], Lane]
) -> list[str]:
    problems = []
    if len(by_id) != len(network.nodes):
        problems.append("node ids must be unique")
    if len(lanes) != len(network.lanes):
        problems.append("at most one lane per (from_node, to_node)")
    for lane in network.lanes:
        if lane.from_node == lane.to_node or not {lane.from_node, lane.to_node} <= by_id.keys():
            problems.append(f"lane {lane.from_node}->{lane.to_node} must join two known nodes")
    if set(network.policies.defaults) != set(SkuClass):
        problems.append("every class A, B, C needs a default policy")
    for sku, node_id in network.policies.by_sku_node:
        if node_id not in by_id:
            problems.append(f"override of {sku} names unknown node {node_id}")
    return problems
