"""The golden examples and the generated JSON Schemas agree with the codec."""

from __future__ import annotations

import calendar
import json
from dataclasses import fields
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from stockline.contracts.codec import DlqReason, Rejection, decode
from stockline.contracts.events import EPOCH_US_FIELDS
from stockline.contracts.examples import (
    EXAMPLES_NOW_US,
    EXAMPLES_RETENTION_US,
    InvalidExample,
    Message,
    invalid_examples,
    valid_examples,
)
from stockline.contracts.jsonschema import SCHEMAS_DIR, main, render_schemas, stale_files
from stockline.contracts.outbound import NodeAtpRecord, SkuAtpRecord
from stockline.contracts.signals import RebalanceRecord, ReorderRecord
from stockline.domain.events import EVENT_TYPES

OutboundRecord = SkuAtpRecord | NodeAtpRecord | ReorderRecord | RebalanceRecord
VALID = valid_examples()
INVALID = invalid_examples()
SCHEMA_LEVEL = {
    DlqReason.UNKNOWN_EVENT_TYPE,
    DlqReason.UNSUPPORTED_SCHEMA_VERSION,
    DlqReason.INVALID_FIELD,
}


def _decode(message: Message) -> object:
    return decode(
        message.value, message.key, now_us=EXAMPLES_NOW_US, retention_us=EXAMPLES_RETENTION_US
    )


def _epoch_us(text: str) -> int:
    moment = datetime.fromisoformat(text)
    return calendar.timegm(moment.utctimetuple()) * 1_000_000 + moment.microsecond


def _validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS_DIR / "v1" / f"{name}.schema.json").read_text("utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def test_every_event_type_has_a_valid_example_named_by_it() -> None:
    assert {m.kind for m in VALID} == set(EVENT_TYPES)
    assert all(json.loads(m.value)["event_type"] == m.kind for m in VALID)
    assert {m.name for m in VALID} >= set(EVENT_TYPES)


def test_every_reason_has_an_invalid_example_named_by_it() -> None:
    assert {e.message.name for e in INVALID} >= {r.value for r in DlqReason}
    assert all(e.message.kind == e.reason.value for e in INVALID)


@pytest.mark.parametrize("message", VALID, ids=lambda m: m.name)
def test_valid_example_decodes_to_its_domain_event(message: Message) -> None:
    wire: dict[str, Any] = json.loads(message.value)
    for wire_name, domain_name in EPOCH_US_FIELDS.items():
        if wire_name in wire:
            wire[domain_name] = _epoch_us(wire.pop(wire_name))
    event = _decode(message)

    assert type(event) is EVENT_TYPES[message.kind]
    for field in fields(event):
        assert getattr(event, field.name) == wire.get(field.name), field.name


@pytest.mark.parametrize("example", INVALID, ids=lambda e: e.message.name)
def test_invalid_example_is_rejected_with_its_reason(example: InvalidExample) -> None:
    rejection = _decode(example.message)

    assert isinstance(rejection, Rejection)
    assert rejection.reason is example.reason, rejection.detail
    assert 0 < len(rejection.detail) <= 500


def test_schemas_on_disk_are_current() -> None:
    stale = stale_files(SCHEMAS_DIR)
    assert not stale, f"stale {stale}: run `python -m stockline.contracts.jsonschema`"


def test_render_schemas_is_deterministic_and_complete() -> None:
    rendered = render_schemas()

    assert rendered == render_schemas()
    assert list(rendered) == sorted(rendered)
    outbound = ["atp", "atp_node", "reorder", "rebalance"]
    expected = {f"v1/{name}.schema.json" for name in [*EVENT_TYPES, "event", *outbound]}
    assert set(rendered) == expected
    assert all(text.endswith("}\n") for text in rendered.values())


def test_check_mode_reports_stale_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--check", "--dir", str(tmp_path)]) == 1
    assert "python -m stockline.contracts.jsonschema" in capsys.readouterr().err

    assert main(["--dir", str(tmp_path)]) == 0
    assert main(["--check", "--dir", str(tmp_path)]) == 0
    (tmp_path / "v1" / "pick.schema.json").write_text("{}\n", encoding="utf-8")
    assert main(["--check", "--dir", str(tmp_path)]) == 1
    assert "pick.schema.json" in capsys.readouterr().err


@pytest.mark.parametrize("message", VALID, ids=lambda m: m.name)
def test_valid_example_passes_the_json_schemas(message: Message) -> None:
    instance = json.loads(message.value)

    _validator("event").validate(instance)
    _validator(message.kind).validate(instance)


@pytest.mark.parametrize("example", INVALID, ids=lambda e: e.message.name)
def test_invalid_example_against_the_json_schema(example: InvalidExample) -> None:
    if example.reason is DlqReason.BAD_JSON:
        with pytest.raises(json.JSONDecodeError):
            json.loads(example.message.value)
        return
    valid = _validator("event").is_valid(json.loads(example.message.value))
    assert valid is (example.reason not in SCHEMA_LEVEL)


OUTBOUND: list[tuple[str, type[OutboundRecord]]] = [
    ("atp", SkuAtpRecord),
    ("atp_node", NodeAtpRecord),
    ("reorder", ReorderRecord),
    ("rebalance", RebalanceRecord),
]


@pytest.mark.parametrize(("name", "model"), OUTBOUND, ids=[name for name, _ in OUTBOUND])
def test_golden_outbound_records_fit_their_schema_and_model(
    name: str, model: type[OutboundRecord]
) -> None:
    value = (SCHEMAS_DIR / "examples" / "outbound" / f"{name}.json").read_bytes().strip()
    _validator(name).validate(json.loads(value))
    # the worker writes exactly these bytes for these values
    assert model.model_validate_json(value).to_bytes() == value
