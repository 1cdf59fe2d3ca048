"""The reorder and rebalance messages: DESIGN.md section 5's fields, built from the domain's
signals, and the same JSON the worker published before the models existed."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from stockline.contracts.jsonschema import SCHEMAS_DIR
from stockline.contracts.signals import (
    RebalanceRecord,
    ReorderRecord,
    parse_rebalance,
    parse_reorder,
    record,
)
from stockline.domain.signals import (
    REBALANCE_REASON,
    REORDER_REASON,
    RebalanceSignal,
    ReorderSignal,
    signal_id,
)

AS_OF = "2026-11-25T10:00:00.125000Z"
DAY = 20_782
REORDER = ReorderSignal(
    signal_id("reorder", "STORE-EAST-1", "SKU-1", DAY),
    "STORE-EAST-1", "SKU-1", 8, 12, 40, 36, REORDER_REASON, AS_OF,
)  # fmt: skip
REBALANCE = RebalanceSignal(
    signal_id("rebalance", "STORE-EAST-2", "SKU-1", DAY),
    "SKU-1", "DC-EAST", "STORE-EAST-2", 30, 1, 0.4, REBALANCE_REASON, AS_OF,
)  # fmt: skip
SIGNALS = [("reorder", REORDER), ("rebalance", REBALANCE)]


def _schema(name: str) -> Draft202012Validator:
    return Draft202012Validator(
        json.loads((SCHEMAS_DIR / "v1" / f"{name}.schema.json").read_text())
    )


def test_the_messages_have_exactly_the_design_fields() -> None:
    assert list(json.loads(record(REORDER).to_bytes())) == [
        "signal_id", "node_id", "sku", "position", "reorder_point", "order_up_to",
        "suggested_qty", "reason", "as_of",
    ]  # fmt: skip
    assert list(json.loads(record(REBALANCE).to_bytes())) == [
        "signal_id", "sku", "from_node", "to_node", "qty", "lane_days", "lane_cost",
        "reason", "as_of",
    ]  # fmt: skip


@pytest.mark.parametrize(("name", "signal"), SIGNALS, ids=[n for n, _ in SIGNALS])
def test_a_message_is_the_json_of_the_signal_fields(
    name: str, signal: ReorderSignal | RebalanceSignal
) -> None:
    value = record(signal).to_bytes()
    # what `json.dumps(asdict(signal))` published before: the same document, compact
    assert json.loads(value) == asdict(signal)
    _schema(name).validate(json.loads(value))


@pytest.mark.parametrize(("name", "signal"), SIGNALS, ids=[n for n, _ in SIGNALS])
def test_the_golden_example_is_what_the_worker_sends_for_it(
    name: str, signal: ReorderSignal | RebalanceSignal
) -> None:
    golden = (SCHEMAS_DIR / "examples" / "outbound" / f"{name}.json").read_bytes().strip()
    assert record(signal).to_bytes() == golden


def test_consumers_parse_what_the_worker_sends() -> None:
    assert parse_reorder(record(REORDER).to_bytes()) == record(REORDER)
    assert parse_rebalance(record(REBALANCE).to_bytes()) == record(REBALANCE)
    with pytest.raises(ValidationError):
        parse_rebalance(record(REORDER).to_bytes())


def test_a_negative_position_is_representable() -> None:
    reorder = ReorderSignal("id", "N", "S", -7, 0, 10, 17, REORDER_REASON, AS_OF)
    assert isinstance(record(reorder), ReorderRecord)


def test_a_reason_the_schema_does_not_list_is_not_sent() -> None:
    with pytest.raises(ValidationError):
        record(ReorderSignal("id", "N", "S", 1, 2, 10, 9, "because", AS_OF))


@pytest.mark.parametrize(
    "over",
    [
        {"suggested_qty": 0},
        {"reorder_point": -1},
        {"reason": "because"},
        {"as_of": "2026-11-25T10:00:00+01:00"},
        {"position": "8"},
        {"signal_id": ""},
    ],
)
def test_reorder_rules(over: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ReorderRecord.model_validate({**asdict(REORDER), **over})


@pytest.mark.parametrize(
    "over", [{"qty": 0}, {"lane_days": -1}, {"lane_cost": -0.1}, {"lane_cost": float("nan")}]
)
def test_rebalance_rules(over: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        RebalanceRecord.model_validate({**asdict(REBALANCE), **over})
