"""inventory.atp messages and DLQ headers."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from stockline.contracts.codec import DlqReason, Rejection
from stockline.contracts.outbound import AtpMessage, NodeAtp, as_of, dlq_headers
from stockline.contracts.rfc3339 import parse, to_epoch_us

NOW_US = to_epoch_us(parse("2026-11-25T10:00:00.5Z"))


def message(**over: object) -> AtpMessage:
    node = NodeAtp(atp=3, on_hand=10, reserved=5, inbound=4, safety_stock=2)
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
    node = NodeAtp(atp=0, on_hand=-4, reserved=0, inbound=0, safety_stock=0)
    assert node.on_hand == -4


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
