"""Policy files for `--compare`: whole network files as they are, overlays merged."""

from __future__ import annotations

from pathlib import Path

from stockline.adapters.network_file import load_network
from stockline.domain.policy import StaticPolicy
from stockline.settings import Settings
from stockline.simulation.command import network_file_for
from stockline.simulation.sandbox import sandbox_settings

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "deploy/network/example.yaml"
STATIC = ROOT / "services/stockline/simulation/policies/static.yaml"


def test_a_whole_network_file_is_used_as_it_is(tmp_path: Path) -> None:
    assert network_file_for(EXAMPLE, EXAMPLE, tmp_path) == EXAMPLE


def test_an_overlay_replaces_the_policies_and_keeps_nodes_lanes_classes(tmp_path: Path) -> None:
    merged = load_network(network_file_for(STATIC, EXAMPLE, tmp_path))
    example = load_network(EXAMPLE)
    assert merged.nodes == example.nodes
    assert merged.lanes == example.lanes
    assert merged.class_of("TV-001-x") == example.class_of("TV-001-x")
    policy = merged.policy_for("TV-001-x", "STORE-NYC-5AV")
    assert isinstance(policy, StaticPolicy)
    assert (policy.reorder_point, policy.order_up_to) == (40, 120)


def test_a_sandbox_has_topics_group_and_keys_of_its_own(tmp_path: Path) -> None:
    settings = sandbox_settings(Settings(), tmp_path / "n.yaml", "abc")
    assert settings.key_prefix == "sim-abc"
    assert settings.consumer_group == "stockline-sim-abc"
    assert all(t.startswith("sim-abc.inventory.") for t in settings.input_topics)
    assert settings.atp_topic == "sim-abc.inventory.atp"
    assert settings.network_file == tmp_path / "n.yaml"
