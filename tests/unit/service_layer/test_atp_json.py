"""The worker's ATP bytes (built from plain dicts) say exactly what the ATP model says."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from stockline.adapters.memory import StaticNetworkView
from stockline.contracts.outbound import AtpMessage
from stockline.domain.ledger import NodeStock
from stockline.service_layer.availability import atp_json, atp_message
from stockline.service_layer.ports import SkuSnapshot

NODES = ["DC-1", "DC-2", "MFC-1", "STORE-1", "STORE-ü"]
NETWORK = StaticNetworkView(
    safety={("DC-1", "SKU-A"): 10, ("STORE-1", "SKU-A"): 2},
    channels={
        "DC-1": frozenset({"web", "stores"}),
        "MFC-1": frozenset({"web", "quick-commerce"}),
        "STORE-1": frozenset({"stores", "marché"}),
    },
)

stock = st.builds(
    NodeStock,
    st.integers(-1_000, 10**9),
    st.integers(0, 10**6),
    st.integers(0, 10**6),
)
snapshots = st.builds(
    SkuSnapshot,
    st.just("SKU-A"),
    st.integers(0, 10**9),
    st.dictionaries(st.sampled_from(NODES), stock).map(lambda d: dict(sorted(d.items()))),
    st.just({}),
    st.just({}),
    st.dictionaries(st.sampled_from(NODES), st.integers(0, 500)),
)


@given(snapshots, st.integers(0, 4_000_000_000_000_000))
def test_atp_json_equals_the_model_serialisation(snapshot: SkuSnapshot, at_us: int) -> None:
    fast = atp_json(snapshot, NETWORK, at_us)
    model = atp_message(snapshot, NETWORK, at_us)
    assert json.loads(fast) == json.loads(model.to_bytes())
    assert AtpMessage.model_validate_json(fast) == model


def test_a_worked_snapshot_has_channel_totals_and_floors_atp_at_zero() -> None:
    snapshot = SkuSnapshot(
        "SKU-A",
        4,
        {"DC-1": NodeStock(50, 8, 3), "STORE-1": NodeStock(1, 0, 0)},
        {},
        {},
        {},
    )
    message = json.loads(atp_json(snapshot, NETWORK, 0))
    # DC-1: 50 - 8 - 10 safety = 32; STORE-1: 1 - 0 - 2 safety floors at 0
    assert message["nodes"]["DC-1"]["atp"] == 32
    assert message["nodes"]["STORE-1"] == {
        "atp": 0,
        "on_hand": 1,
        "reserved": 0,
        "inbound": 0,
        "safety_stock": 2,
    }
    assert message["network_atp"] == 32
    assert message["channels"] == {"marché": 0, "stores": 32, "web": 32}
    assert list(message) == ["sku", "version", "as_of", "network_atp", "nodes", "channels"]
