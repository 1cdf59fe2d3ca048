"""The network file: the shipped example loads, and a bad file fails naming field and line."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from stockline.adapters.network_file import NetworkFileError, load_network
from stockline.domain.network import Network, NodeKind, SkuClass
from stockline.domain.policy import DynamicPolicy, StaticPolicy

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "deploy" / "network" / "example.yaml"


@pytest.fixture(scope="module")
def example() -> Network:
    return load_network(EXAMPLE)


class TestExample:
    def test_it_has_3_dcs_4_mfcs_and_8_stores(self, example: Network) -> None:
        kinds = Counter(node.kind for node in example.nodes)
        assert kinds == {NodeKind.DC: 3, NodeKind.MFC: 4, NodeKind.STORE: 8}
        assert len({node.region for node in example.nodes}) >= 3

    def test_every_kind_of_lane_is_there(self, example: Network) -> None:
        kinds = {
            (example.node(lane.from_node).kind, example.node(lane.to_node).kind)
            for lane in example.lanes
        }
        dc, mfc, store = NodeKind.DC, NodeKind.MFC, NodeKind.STORE
        assert {(dc, mfc), (dc, store), (mfc, store), (dc, dc)} <= kinds
        assert example.lane("DC-EAST", "DC-CENTRAL") is not None
        assert example.lane("DC-CENTRAL", "DC-EAST") is not None

    def test_every_store_can_be_replenished_faster_than_any_supplier(
        self, example: Network
    ) -> None:
        fastest_supplier = min(
            example.policies.defaults[c].supplier_lead_time_days for c in SkuClass
        )
        for node in example.nodes:
            if node.kind is NodeKind.STORE:
                lanes = example.lanes_to(node.node_id)
                assert lanes
                assert all(lane.transit_days < fastest_supplier for lane in lanes)

    def test_channels(self, example: Network) -> None:
        assert example.channels_of("MFC-NYC") == {"web", "store-pickup"}
        assert example.nodes_serving("marketplace") == {"DC-EAST", "DC-CENTRAL", "DC-WEST"}
        assert example.nodes_serving("fax") == frozenset()

    def test_lanes_from_and_to(self, example: Network) -> None:
        assert {lane.to_node for lane in example.lanes_from("MFC-NYC")} == {
            "STORE-NYC-5AV", "STORE-BOS-01",
        }  # fmt: skip
        assert {lane.from_node for lane in example.lanes_to("STORE-NYC-5AV")} == {
            "DC-EAST", "MFC-NYC",
        }  # fmt: skip
        assert example.lane("STORE-NYC-5AV", "DC-EAST") is None

    def test_class_defaults(self, example: Network) -> None:
        a, b, c = (example.policies.defaults[k] for k in SkuClass)
        assert isinstance(a, DynamicPolicy)
        assert a.service_level == 0.98
        assert isinstance(b, DynamicPolicy)
        assert b.service_level == 0.95
        assert isinstance(c, DynamicPolicy)
        assert (a.initial_daily_demand, c.initial_daily_demand) == (1, 0.2)

    def test_classes_by_explicit_entry_then_longest_prefix_then_default(
        self, example: Network
    ) -> None:
        assert example.class_of("ACC-CHG-USBC-65W") is SkuClass.A  # explicit beats "ACC-"
        assert example.class_of("TV-CRT-14") is SkuClass.C  # explicit beats "TV-"
        assert example.class_of("ACC-CBL-USB") is SkuClass.C  # "ACC-CBL-" beats "ACC-"
        assert example.class_of("ACC-CASE-1") is SkuClass.B
        assert example.class_of("TV-QLED-55") is SkuClass.A
        assert example.class_of("MUG-1") is SkuClass.C  # the default

    def test_an_sku_override_changes_only_what_it_names(self, example: Network) -> None:
        policy = example.policy_for("TV-OLED-77", "DC-EAST")
        assert policy == DynamicPolicy(service_level=0.98, cover_days=3, case_pack=1, moq=2,
                                       supplier_lead_time_days=14,
                                       initial_daily_demand=1)  # fmt: skip

    def test_a_node_override_applies_on_top_of_the_sku_override(self, example: Network) -> None:
        # the showroom turns static; case_pack and moq still come from the sku override
        assert example.policy_for("TV-OLED-77", "STORE-NYC-5AV") == StaticPolicy(
            reorder_point=2, order_up_to=4, supplier_lead_time_days=14, case_pack=1, moq=2
        )

    def test_naming_one_alternative_drops_the_inherited_other(self, example: Network) -> None:
        fixed = example.policy_for("PHN-PRO-256", "MFC-NYC")
        assert isinstance(fixed, DynamicPolicy)
        assert (fixed.safety_stock, fixed.service_level) == (30, None)
        extra = example.policy_for("PHN-PRO-256", "DC-WEST")
        assert isinstance(extra, DynamicPolicy)
        assert (extra.service_level, extra.cover_days, extra.order_up_to_extra) == (0.99, None, 200)

    def test_an_unknown_node_has_no_policy(self, example: Network) -> None:
        with pytest.raises(KeyError):
            example.policy_for("TV-OLED-77", "DC-MARS")


GOOD = """\
nodes:
  - {id: DC-1, kind: dc, region: east, channels: [web]}
  - {id: STORE-1, kind: store, region: east, channels: [store-pickup]}
lanes:
  - {from: DC-1, to: STORE-1, transit_days: 2, cost_per_unit: 0.5}
classes:
  default: C
  skus: {A: [SKU-1]}
policies:
  defaults:
    A: {kind: dynamic, service_level: 0.98, cover_days: 7, supplier_lead_time_days: 14}
    B: {kind: dynamic, service_level: 0.95, cover_days: 7, supplier_lead_time_days: 14}
    C: {kind: static, reorder_point: 5, order_up_to: 10, supplier_lead_time_days: 28}
  overrides:
    SKU-1:
      case_pack: 6
      nodes:
        STORE-1: {kind: static, reorder_point: 2, order_up_to: 4}
"""


def load_text(tmp_path: Path, text: str) -> Network:
    path = tmp_path / "network.yaml"
    path.write_text(text)
    return load_network(path)


def test_the_good_file_loads(tmp_path: Path) -> None:
    net = load_text(tmp_path, GOOD)
    assert net.policy_for("SKU-1", "STORE-1") == StaticPolicy(
        reorder_point=2, order_up_to=4, supplier_lead_time_days=14, case_pack=6
    )


# (what is wrong, old text, new text, the field named, its line)
BAD = [
    ("a kind not in the list", "kind: dc,", "kind: depot,", "nodes[0].kind", 2),
    ("a node id off the pattern", "id: STORE-1", "id: 'STORE 1'", "nodes[1].id", 3),
    ("a node id that is a number", "id: STORE-1", "id: 1234", "nodes[1].id", 3),
    ("a duplicate node id", "id: STORE-1", "id: DC-1", "nodes[1].id", 3),
    ("a lane to an unknown node", "to: STORE-1", "to: STORE-9", "lanes[0].to", 5),
    ("a negative transit", "transit_days: 2", "transit_days: -2", "lanes[0].transit_days", 5),
    ("a misspelt field", "cost_per_unit", "cost_per_piece", "lanes[0].cost_per_piece", 5),
    ("an unknown class", "default: C", "default: D", "classes.default", 7),
    ("a service level of 100%", "0.98", "1.0", "policies.defaults.A.service_level", 11),
    (
        "both safety stock and service level",
        "service_level: 0.95,",
        "service_level: 0.95, safety_stock: 3,",
        "policies.defaults.B",
        12,
    ),
    ("an unknown policy kind", "kind: static, reorder", "kind: minmax, reorder",
     "policies.defaults.C.kind", 13),
    ("order_up_to below reorder_point", "order_up_to: 10", "order_up_to: 4",
     "policies.defaults.C.order_up_to", 13),
    ("a class without a default", "    C: {kind: static", "    X: {kind: static",
     "policies.defaults.X", 13),
    ("an override on an unknown node", "        STORE-1:", "        STORE-2:",
     "policies.overrides.SKU-1.nodes.STORE-2", 18),
    ("a merged override that breaks a rule", "reorder_point: 2, order_up_to: 4",
     "reorder_point: 2", "policies.overrides.SKU-1.nodes.STORE-1.order_up_to", 18),
    ("a field of the other kind", "reorder_point: 2, order_up_to: 4",
     "reorder_point: 2, order_up_to: 4, service_level: 0.9",
     "policies.overrides.SKU-1.nodes.STORE-1.service_level", 18),
    ("a case pack of 0", "case_pack: 6", "case_pack: 0", "policies.overrides.SKU-1.case_pack", 16),
    ("a key given twice", "      case_pack: 6\n", "      case_pack: 6\n      case_pack: 12\n",
     "(yaml)", 17),
    ("broken YAML", "channels: [web]}", "channels: [web}", "(yaml)", 2),
]  # fmt: skip


@pytest.mark.parametrize(
    ("old", "new", "field", "line"), [case[1:] for case in BAD], ids=[case[0] for case in BAD]
)
def test_a_bad_file_fails_naming_the_field_and_the_line(
    tmp_path: Path, old: str, new: str, field: str, line: int
) -> None:
    assert old in GOOD
    with pytest.raises(NetworkFileError) as failure:
        load_text(tmp_path, GOOD.replace(old, new, 1))
    assert f"line {line}, {field}: " in str(failure.value)
    assert str(tmp_path / "network.yaml") in str(failure.value)


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    text = GOOD.replace("kind: dc,", "kind: depot,").replace("transit_days: 2", "transit_days: x")
    with pytest.raises(NetworkFileError) as failure:
        load_text(tmp_path, text)
    assert [(p.line, p.field) for p in failure.value.problems] == [
        (2, "nodes[0].kind"), (5, "lanes[0].transit_days"),
    ]  # fmt: skip


def test_a_missing_field_is_named_at_the_line_of_its_mapping(tmp_path: Path) -> None:
    text = GOOD.replace(", supplier_lead_time_days: 28}", "}")
    with pytest.raises(NetworkFileError) as failure:
        load_text(tmp_path, text)
    assert "line 13, policies.defaults.C.supplier_lead_time_days: Field required" in str(
        failure.value
    )


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(NetworkFileError, match=r"line 1, \(document\)"):
        load_text(tmp_path, "")
