"""The ATP records, the read API's per-SKU view, and DLQ headers."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from stockline.contracts.codec import DlqReason, Rejection
from stockline.contracts.outbound import (
    AtpMessage,
    NodeAtp,
    NodeAtpRecord,
    SkuAtpRecord,
    as_of,
    dlq_headers,
    node_record_key,
)
from stockline.contracts.rfc3339 import parse, to_epoch_us

NOW_US = to_epoch_us(parse("2026-11-25T10:00:00.5Z"))


def message(**over: object) -> AtpMessage:
    node = NodeAtp(atp=3, on_hand=10, reserved=5, held=0, inbound=4, buffer=2, safety_stock=6)
    fields: dict[str, object] = {
        "sku": "SKU-1",
        "version": 7,
        "as_of": as_of(NOW_US),
        "network_atp": 3,
        "nodes": {"DC-1": node},
    }
    return AtpMessage.model_validate({**fields, **over})


def test_atp_message_round_trips_through_json() -> None:
    sent = message(channels={"web": 3})
    assert AtpMessage.model_validate_json(sent.to_bytes()) == sent
    assert sent.as_of == "2026-11-25T10:00:00.500000Z"


def test_channels_default_to_empty() -> None:
    assert message().channels == {}


def test_negative_on_hand_is_representable() -> None:
    node = NodeAtp(atp=0, on_hand=-4, reserved=0, held=0, inbound=0, buffer=0, safety_stock=0)
    assert node.on_hand == -4


def test_a_node_record_round_trips_and_is_keyed_by_sku_and_node() -> None:
    record = NodeAtpRecord(
        sku="SKU-1",
        node_id="DC-1",
        version=3,
        as_of=as_of(NOW_US),
        atp=0,
        on_hand=-2,
        reserved=1,
        held=0,
        inbound=5,
        buffer=0,
    )
    assert NodeAtpRecord.model_validate_json(record.to_bytes()) == record
    assert node_record_key("SKU-1", "DC-1") == "SKU-1/DC-1"


@pytest.mark.parametrize("over", [{"atp": -1}, {"buffer": -1}, {"version": "3"}])
def test_node_record_rules(over: dict[str, object]) -> None:
    fields: dict[str, object] = {
        "sku": "SKU-1",
        "node_id": "DC-1",
        "version": 3,
        "as_of": as_of(NOW_US),
        "atp": 1,
        "on_hand": 1,
        "reserved": 0,
        "held": 0,
        "inbound": 0,
        "buffer": 0,
    }
    with pytest.raises(ValidationError):
        NodeAtpRecord.model_validate({**fields, **over})


def test_a_sku_record_has_no_nodes_and_channels_default_to_empty() -> None:
    record = SkuAtpRecord(sku="SKU-1", version=3, as_of=as_of(NOW_US), network_atp=4)
    assert record.channels == {}
    assert "nodes" not in record.model_dump()


@pytest.mark.parametrize(
    "over", [{"network_atp": -1}, {"as_of": "2026-11-25T10:00:00+01:00"}, {"version": "7"}]
)
def test_atp_message_rules(over: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        message(**over)


def test_dlq_headers_are_utf8_text() -> None:
    rejection = Rejection(DlqReason.KEY_MISMATCH, "key b'x' != sku 'é'")
    assert dlq_headers(rejection, "inventory.picks", 3, 1042) == [
        ("reason", b"key_mismatch"),
        ("detail", "key b'x' != sku 'é'".encode()),
        ("source_topic", b"inventory.picks"),
        ("source_partition", b"3"),
        ("source_offset", b"1042"),
    ]
