"""The network model (domain/network.py): SKU classes, policy lookups and the checks a
network file must pass, each with the message its author reads."""

from __future__ import annotations

import pytest

from stockline.domain.network import (
    Lane,
    Network,
    Node,
    NodeKind,
    Policies,
    SkuClass,
    SkuClasses,
)
from stockline.domain.policy import StaticPolicy


def policy(reorder_point: int) -> StaticPolicy:
    return StaticPolicy(reorder_point=reorder_point, order_up_to=100, supplier_lead_time_days=7)


DEFAULTS = {SkuClass.A: policy(30), SkuClass.B: policy(20), SkuClass.C: policy(10)}
CLASSES = SkuClasses(
    SkuClass.C,
    explicit={"TOOL-9": SkuClass.A},
    prefixes={"TOOL-": SkuClass.B, "TOOL-HEAVY-": SkuClass.A, "PAINT": SkuClass.B},
)
DC = Node("DC-1", NodeKind.DC, "east", frozenset({"web"}))
STORE = Node("STORE-1", NodeKind.STORE, "east", frozenset({"web", "store-pickup"}))


def network(
    nodes: tuple[Node, ...] = (DC, STORE),
    lanes: tuple[Lane, ...] = (Lane("DC-1", "STORE-1", 2, 0.4),),
    defaults: dict[SkuClass, StaticPolicy] = DEFAULTS,
    by_sku_node: dict[tuple[str, str], StaticPolicy] | None = None,
) -> Network:
    policies = Policies(defaults, by_sku={"PAINT-1": policy(5)}, by_sku_node=by_sku_node or {})
    return Network(nodes=nodes, lanes=lanes, classes=CLASSES, policies=policies)


class TestSkuClasses:
    @pytest.mark.parametrize(
        ("sku", "sku_class"),
        [
            ("TOOL-9", SkuClass.A),  # its explicit entry, over the prefix TOOL- (B)
            ("TOOL-1", SkuClass.B),  # prefix TOOL-
            ("TOOL-HEAVY-2", SkuClass.A),  # the longest matching prefix: TOOL-HEAVY-, not TOOL-
            ("PAINT-RED", SkuClass.B),  # prefix PAINT
            ("GLUE-1", SkuClass.C),  # no entry, no prefix: the default
            ("XTOOL-1", SkuClass.C),  # a prefix matches at the start only
        ],
    )
    def test_explicit_then_longest_prefix_then_default(self, sku: str, sku_class: SkuClass) -> None:
        assert CLASSES.class_of(sku) is sku_class
        assert network().class_of(sku) is sku_class


class TestPolicies:
    def test_the_most_specific_policy_wins(self) -> None:
        net = network(by_sku_node={("TOOL-1", "STORE-1"): policy(1)})
        # (sku, node) override; sku override; class default (TOOL-1 is B, GLUE-1 is C)
        assert net.policy_for("TOOL-1", "STORE-1") == policy(1)
        assert net.policy_for("PAINT-1", "STORE-1") == policy(5)
        assert net.policy_for("TOOL-1", "DC-1") == policy(20)
        assert net.policy_for("GLUE-1", "DC-1") == policy(10)

    def test_an_unknown_node_has_no_policy(self) -> None:
        with pytest.raises(KeyError):
            network().policy_for("TOOL-1", "DC-9")


class TestLookups:
    def test_channels_lanes_and_nodes_serving(self) -> None:
        net = network()
        assert net.channels_of("STORE-1") == {"web", "store-pickup"}
        assert net.nodes_serving("web") == {"DC-1", "STORE-1"}
        assert net.nodes_serving("store-pickup") == {"STORE-1"}
        assert net.nodes_serving("phone") == frozenset()
        assert [lane.to_node for lane in net.lanes_from("DC-1")] == ["STORE-1"]
        assert [lane.from_node for lane in net.lanes_to("STORE-1")] == ["DC-1"]
        assert net.lane("DC-1", "STORE-1") == Lane("DC-1", "STORE-1", 2, 0.4)
        assert net.lane("STORE-1", "DC-1") is None  # a lane has one direction


class TestChecks:
    @pytest.mark.parametrize(
        ("fields", "message"),
        [
            ({"nodes": (DC, DC, STORE)}, "node ids must be unique"),
            (
                {"lanes": (Lane("DC-1", "STORE-1", 2, 0.4), Lane("DC-1", "STORE-1", 1, 0.9))},
                r"at most one lane per \(from_node, to_node\)",
            ),
            ({"lanes": (Lane("DC-1", "DC-1", 0, 0.0),)}, "lane DC-1->DC-1 must join two known"),
            ({"defaults": {SkuClass.A: policy(1)}}, "every class A, B, C needs a default policy"),
            (
                {"by_sku_node": {("TOOL-1", "STORE-9"): policy(1)}},
                "override of TOOL-1 names unknown node STORE-9",
            ),
        ],
    )
    def test_a_broken_network_is_refused_saying_why(
        self, fields: dict[str, object], message: str
    ) -> None:
        with pytest.raises(ValueError, match=f"^{message}"):
            network(**fields)  # type: ignore[arg-type]

    def test_every_problem_is_named_at_once(self) -> None:
        lanes = (Lane("DC-1", "DC-1", 0, 0.0),)
        both = "^node ids must be unique; lane DC-1->DC-1 must join two known nodes$"
        with pytest.raises(ValueError, match=both):
            network(nodes=(DC, DC, STORE), lanes=lanes)

    def test_a_valid_network_names_no_problem(self) -> None:
        by_sku_node = {("TOOL-1", "STORE-1"): policy(1)}
        assert network(by_sku_node=by_sku_node).node("STORE-1") is STORE
