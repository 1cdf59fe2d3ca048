"""The worker's ATP record bytes are exactly the wire models' JSON."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from stockline.contracts.outbound import NodeAtpRecord, SkuAtpRecord, as_of
from stockline.domain.ledger import NodeStock, SkuTotals
from stockline.service_layer.ports import NodeState, SkuChange
from stockline.service_layer.records import node_records, sku_record

STAMP = as_of(1_764_064_800_000_000)
CHANGE = SkuChange(
    "SKU-1",
    7,
    (
        NodeState("DC-1", NodeStock(on_hand=50, reserved=8, inbound=3, held=2), 5, 35),
        NodeState("STORE-1", NodeStock(on_hand=-1), 0, 0),
    ),
    SkuTotals(35, {"stores": 0, "web": 35}),
)


def test_node_records_are_the_models_bytes_keyed_by_sku_and_node() -> None:
    records = list(node_records(CHANGE, STAMP))
    assert [(sku, node) for sku, node, _ in records] == [("SKU-1", "DC-1"), ("SKU-1", "STORE-1")]
    model = NodeAtpRecord(
        sku="SKU-1",
        node_id="DC-1",
        version=7,
        as_of=STAMP,
        atp=35,
        on_hand=50,
        reserved=8,
        held=2,
        inbound=3,
        buffer=5,
    )
    assert records[0][2] == model.to_bytes()
    assert NodeAtpRecord.model_validate_json(records[1][2]).on_hand == -1


def test_the_sku_record_carries_network_and_channel_atp_at_the_version() -> None:
    value = sku_record(CHANGE, STAMP)
    model = SkuAtpRecord(
        sku="SKU-1", version=7, as_of=STAMP, network_atp=35, channels={"stores": 0, "web": 35}
    )
    assert value == model.to_bytes()
    assert json.loads(value)["channels"] == {"stores": 0, "web": 35}


texts = st.text(st.characters(codec="utf-8"), min_size=1, max_size=20)
counts = st.integers(-(10**12), 10**12)
naturals = st.integers(0, 10**16)


@given(texts, texts, naturals, naturals, counts, counts, counts, counts, naturals)
def test_node_records_are_the_models_bytes_for_any_text_and_number(
    sku: str,
    node_id: str,
    version: int,
    atp: int,
    on_hand: int,
    reserved: int,
    held: int,
    inbound: int,
    buffer: int,
) -> None:
    stock = NodeStock(on_hand=on_hand, reserved=reserved, inbound=inbound, held=held)
    change = SkuChange(sku, version, (NodeState(node_id, stock, buffer, atp),), None)
    [(_, _, value)] = node_records(change, STAMP)
    model = NodeAtpRecord(
        sku=sku,
        node_id=node_id,
        version=version,
        as_of=STAMP,
        atp=atp,
        on_hand=on_hand,
        reserved=reserved,
        held=held,
        inbound=inbound,
        buffer=buffer,
    )
    assert value == model.to_bytes()


@given(texts, naturals, naturals, st.dictionaries(texts, naturals, max_size=4))
def test_sku_records_are_the_models_bytes_for_any_text_and_number(
    sku: str, version: int, network_atp: int, channels: dict[str, int]
) -> None:
    change = SkuChange(sku, version, (), SkuTotals(network_atp, channels))
    model = SkuAtpRecord(
        sku=sku, version=version, as_of=STAMP, network_atp=network_atp, channels=channels
    )
    assert sku_record(change, STAMP) == model.to_bytes()
