"""decode: boundaries of every field rule, the order of checks, and hostile input."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stockline.contracts.codec import MAX_MESSAGE_BYTES, DlqReason, Rejection, decode
from stockline.contracts.rfc3339 import parse, to_epoch_us
from stockline.domain.events import (
    Adjustment,
    CycleCount,
    HoldExtended,
    HoldPlaced,
    HoldReleased,
    HoldReleaseReason,
    InboundExpected,
    OrderPlaced,
    Receipt,
)

NOW_US = to_epoch_us(parse("2026-11-25T10:00:00Z"))
RETENTION_US = 7 * 24 * 3600 * 1_000_000
SKU = "SKU-1"
_UNSET: Any = object()
_REQUIRED: dict[str, dict[str, Any]] = {
    "receipt": {"qty": 5},
    "cycle_count": {"counted_qty": 5},
    "adjustment": {"delta": 5, "reason": "found"},
    "inbound_expected": {"qty": 5, "asn_id": "ASN-1"},
    "order_placed": {"qty": 5, "order_id": "O-1"},
    "hold_placed": {"qty": 5, "reservation_id": "R-1", "expires_at": "2026-11-25T09:15:00Z"},
    "hold_extended": {"reservation_id": "R-1", "expires_at": "2026-11-25T09:30:00Z"},
    "hold_released": {"reservation_id": "R-1", "reason": "released"},
}


def wire(event_type: str = "receipt", **over: Any) -> dict[str, Any]:
    """A valid message as a dict; `over` replaces fields, `_UNSET` removes one."""
    body: dict[str, Any] = {
        "event_id": "e-1",
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": "2026-11-25T09:00:00Z",
        "source": "wms",
        "node_id": "DC-1",
        "sku": SKU,
    }
    body.update(_REQUIRED.get(event_type, {}))
    body.update(over)
    return {name: value for name, value in body.items() if value is not _UNSET}


def run(body: dict[str, Any] | bytes, key: bytes | None = SKU.encode(), **kw: int) -> object:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return decode(raw, key, now_us=kw.get("now_us", NOW_US), retention_us=RETENTION_US)


def reason_of(outcome: object) -> DlqReason | None:
    return outcome.reason if isinstance(outcome, Rejection) else None


@pytest.mark.parametrize(
    ("over", "accepted"),
    [
        ({"qty": 1}, True),
        ({"qty": 1_000_000}, True),
        ({"qty": 0}, False),
        ({"qty": 1_000_001}, False),
        ({"qty": -1}, False),
        ({"qty": True}, False),
        ({"qty": "5"}, False),
        ({"qty": 5.0}, False),
        ({"qty": None}, False),
        ({"qty": _UNSET}, False),
        ({"event_id": "x" * 128}, True),
        ({"event_id": "é" * 128}, True),
        ({"event_id": "x" * 129}, False),
        ({"event_id": ""}, False),
        ({"event_id": 7}, False),
        ({"source": "s" * 64}, True),
        ({"source": "s" * 65}, False),
        ({"source": ""}, False),
        ({"node_id": "N" * 64}, True),
        ({"node_id": "a.b_c:d-e"}, True),
        ({"node_id": "N" * 65}, False),
        ({"node_id": "-DC"}, False),
        ({"node_id": "DC 1"}, False),
        ({"node_id": "DC-1\n"}, False),
        ({"asn_id": "A" * 128}, True),
        ({"asn_id": ""}, False),
        ({"occurred_at": "2026-11-25t09:00:00.5z"}, True),
        ({"occurred_at": "2026-11-25T11:00:00+02:00"}, True),
        ({"occurred_at": "2026-11-25T09:00:00"}, False),
        ({"occurred_at": "2026-11-25T09:00:00+0100"}, False),
        ({"occurred_at": "2026-11-25 09:00:00Z"}, False),
        ({"occurred_at": "2026-02-30T09:00:00Z"}, False),
        ({"occurred_at": "1969-12-31T23:59:59Z"}, False),
        ({"occurred_at": 1_795_597_200}, False),
        ({"trace_id": "abc", "nested": {"a": [1]}}, True),
    ],
)
def test_receipt_field_rules(over: dict[str, Any], accepted: bool) -> None:
    outcome = run(wire(**over))
    assert reason_of(outcome) is (None if accepted else DlqReason.INVALID_FIELD), outcome


@pytest.mark.parametrize(
    ("event_type", "over", "accepted"),
    [
        ("adjustment", {"delta": 1_000_000}, True),
        ("adjustment", {"delta": -1_000_000}, True),
        ("adjustment", {"delta": 0}, False),
        ("adjustment", {"delta": 1_000_001}, False),
        ("adjustment", {"delta": -1_000_001}, False),
        ("adjustment", {"reason": "stolen"}, False),
        ("cycle_count", {"counted_qty": 0}, True),
        ("cycle_count", {"counted_qty": 10**9}, True),
        ("cycle_count", {"counted_qty": 10**9 + 1}, False),
        ("inbound_expected", {"eta": None}, True),
        ("inbound_expected", {"eta": "2026-11-27T08:00:00-05:00"}, True),
        ("inbound_expected", {"eta": "2026-11-27"}, False),
        ("order_placed", {"order_id": _UNSET}, False),
        ("order_placed", {"qty": 3, "order_id": "O-1"}, True),
        ("order_placed", {"reservation_id": None}, True),
        ("order_placed", {"reservation_id": "R" * 128}, True),
        ("order_placed", {"reservation_id": "R" * 129}, False),
        ("order_placed", {"reservation_id": ""}, False),
        ("order_placed", {"reservation_id": 7}, False),
        ("transfer_shipped", {"qty": 3, "transfer_id": "T-1", "to_node": "bad node"}, False),
        ("lost_sale", {"qty": 3}, True),
        ("lost_sale", {"qty": 3, "reason": "out_of_stock"}, True),
        ("lost_sale", {"qty": 3, "reason": None}, True),
        ("lost_sale", {}, False),
        ("lost_sale", {"qty": 0}, False),
        ("lost_sale", {"qty": 1_000_001}, False),
        ("lost_sale", {"qty": 3, "reason": ""}, False),
        ("lost_sale", {"qty": 3, "reason": "x" * 65}, False),
        ("lost_sale", {"qty": "3"}, False),
        ("hold_placed", {}, True),
        ("hold_placed", {"qty": 1_000_000}, True),
        ("hold_placed", {"qty": 0}, False),
        ("hold_placed", {"qty": 1_000_001}, False),
        ("hold_placed", {"qty": _UNSET}, False),
        ("hold_placed", {"reservation_id": "é" * 128}, True),
        ("hold_placed", {"reservation_id": "R" * 129}, False),
        ("hold_placed", {"reservation_id": ""}, False),
        ("hold_placed", {"reservation_id": _UNSET}, False),
        ("hold_placed", {"expires_at": "2026-11-25t10:15:00.5+01:00"}, True),
        ("hold_placed", {"expires_at": "1970-01-01T00:00:00Z"}, True),
        ("hold_placed", {"expires_at": "2255-06-05T23:47:34.740992Z"}, True),
        ("hold_placed", {"expires_at": "2255-06-05T23:47:34.740993Z"}, False),
        ("hold_placed", {"expires_at": "1969-12-31T23:59:59Z"}, False),
        ("hold_placed", {"expires_at": "2026-11-25T10:15:00"}, False),
        ("hold_placed", {"expires_at": "2026-11-25"}, False),
        ("hold_placed", {"expires_at": 1_795_597_200}, False),
        ("hold_placed", {"expires_at": None}, False),
        ("hold_placed", {"expires_at": _UNSET}, False),
        ("hold_extended", {}, True),
        ("hold_extended", {"reservation_id": _UNSET}, False),
        ("hold_extended", {"expires_at": _UNSET}, False),
        ("hold_extended", {"expires_at": "2026-02-30T10:00:00Z"}, False),
        ("hold_released", {}, True),
        ("hold_released", {"reason": "expired"}, True),
        ("hold_released", {"reason": "cancelled"}, False),
        ("hold_released", {"reason": "RELEASED"}, False),
        ("hold_released", {"reason": _UNSET}, False),
        ("hold_released", {"reservation_id": _UNSET}, False),
    ],
)
def test_type_specific_rules(event_type: str, over: dict[str, Any], accepted: bool) -> None:
    outcome = run(wire(event_type, **over))
    assert reason_of(outcome) is (None if accepted else DlqReason.INVALID_FIELD), outcome


def test_detail_names_the_field() -> None:
    outcome = run(wire(qty=1_000_001))
    assert outcome == Rejection(
        DlqReason.INVALID_FIELD, "qty: Input should be less than or equal to 1000000"
    )
    assert run(wire(qty=_UNSET)) == Rejection(DlqReason.INVALID_FIELD, "qty: Field required")


def test_decoded_receipt_has_exact_microseconds() -> None:
    outcome = run(wire(occurred_at="2026-11-25T10:59:59.999999+01:00", asn_id="A-1"))
    assert outcome == Receipt("e-1", NOW_US - 1, "wms", "DC-1", SKU, 5, "A-1")


def test_fraction_beyond_microseconds_is_truncated() -> None:
    outcome = run(wire(occurred_at="2026-11-25T09:59:59.123456789Z"))
    assert isinstance(outcome, Receipt)
    assert outcome.occurred_us == NOW_US - 1_000_000 + 123_456


def test_adjustment_and_eta_reach_the_domain_as_sent() -> None:
    adjustment = run(wire("adjustment", delta=-2, reason="shrink"))
    inbound = run(wire("inbound_expected", eta="2026-11-27T08:00:00-05:00"))
    assert isinstance(adjustment, Adjustment)
    assert adjustment.delta == -2
    assert adjustment.reason == "shrink"
    assert isinstance(inbound, InboundExpected)
    assert inbound.eta == "2026-11-27T08:00:00-05:00"


def test_hold_times_reach_the_domain_as_exact_microseconds() -> None:
    placed = run(wire("hold_placed", expires_at="2026-11-25T11:14:59.999999+01:00"))
    extended = run(wire("hold_extended", expires_at="2026-11-25T10:30:00Z"))
    released = run(wire("hold_released", reason="expired"))
    assert placed == HoldPlaced(
        "e-1", NOW_US - 3_600_000_000, "wms", "DC-1", SKU, 5, "R-1", NOW_US + 899_999_999
    )
    assert extended == HoldExtended(
        "e-1", NOW_US - 3_600_000_000, "wms", "DC-1", SKU, "R-1", NOW_US + 1_800_000_000
    )
    assert isinstance(released, HoldReleased)
    assert released.reason is HoldReleaseReason.EXPIRED
    committing = run(wire("order_placed", reservation_id="R-1"))
    assert isinstance(committing, OrderPlaced)
    assert committing.reservation_id == "R-1"


def test_expires_at_has_no_clock_limit_but_occurred_at_keeps_its_own() -> None:
    # a hold replayed from Kafka days after it expired is the same event: accepted
    replayed = wire("hold_placed", occurred_at="2026-11-20T08:00:00Z")
    replayed["expires_at"] = "2026-11-20T08:15:00Z"
    assert isinstance(run(replayed), HoldPlaced)
    far = wire(
        "hold_extended", occurred_at="2026-11-25T10:00:00Z", expires_at="2200-01-01T00:00:00Z"
    )
    assert isinstance(run(far), HoldExtended)
    ahead = wire("hold_placed", occurred_at="2026-11-25T10:05:01Z")
    assert reason_of(run(ahead)) is DlqReason.OCCURRED_IN_FUTURE


def test_occurred_at_after_the_exact_range_is_a_field_error() -> None:
    outcome = run(wire(occurred_at="2255-06-05T23:47:34.740993Z"))
    assert reason_of(outcome) is DlqReason.INVALID_FIELD


def test_size_limit_is_inclusive() -> None:
    raw = json.dumps(wire()).encode()
    assert isinstance(run(raw.ljust(MAX_MESSAGE_BYTES)), Receipt)
    assert reason_of(run(raw.ljust(MAX_MESSAGE_BYTES + 1))) is DlqReason.TOO_LARGE


@pytest.mark.parametrize(
    "raw",
    [b"", b"\xff\xfe{}", b'{"event_id":"\xe9"}', b"[1]", b'"x"', b"null", b"5", b"{", b"{}}"],
)
def test_bad_json(raw: bytes) -> None:
    assert reason_of(run(raw)) is DlqReason.BAD_JSON


@pytest.mark.parametrize(
    "over", [{"event_type": "putaway"}, {"event_type": 5}, {"event_type": _UNSET}]
)
def test_unknown_event_type(over: dict[str, Any]) -> None:
    outcome = run(wire(**over))
    assert reason_of(outcome) is DlqReason.UNKNOWN_EVENT_TYPE
    assert isinstance(outcome, Rejection)
    assert outcome.detail.startswith("event_type: ")


@pytest.mark.parametrize("version", [2, 0, "1", True, 1.0, None, _UNSET])
def test_unsupported_schema_version(version: object) -> None:
    assert reason_of(run(wire(schema_version=version))) is DlqReason.UNSUPPORTED_SCHEMA_VERSION


def test_key_must_equal_sku_when_present() -> None:
    assert reason_of(run(wire(), key=b"SKU-2")) is DlqReason.KEY_MISMATCH
    assert reason_of(run(wire(), key=b"")) is DlqReason.KEY_MISMATCH
    assert reason_of(run(wire(), key=b"\xff")) is DlqReason.KEY_MISMATCH
    assert isinstance(run(wire(), key=None), Receipt)


def test_future_limit_is_five_minutes_inclusive() -> None:
    at_limit = NOW_US - to_epoch_us(parse("2026-11-25T09:55:00Z"))
    body = wire(occurred_at="2026-11-25T10:00:00Z")
    assert isinstance(run(body, now_us=NOW_US - at_limit), Receipt)
    assert reason_of(run(body, now_us=NOW_US - at_limit - 1)) is DlqReason.OCCURRED_IN_FUTURE


def test_stale_applies_to_cycle_counts_only_and_is_inclusive() -> None:
    oldest = wire("cycle_count", occurred_at="2026-11-18T10:00:00Z")
    too_old = wire("cycle_count", occurred_at="2026-11-18T09:59:59.999999Z")
    assert isinstance(run(oldest), CycleCount)
    assert reason_of(run(too_old)) is DlqReason.STALE_COUNT
    assert isinstance(run(wire(occurred_at="2026-01-01T00:00:00Z")), Receipt)


@pytest.mark.parametrize(
    ("body", "key", "expected"),
    [
        (wire(schema_version=2, qty=0), b"x", DlqReason.UNSUPPORTED_SCHEMA_VERSION),
        (wire(event_type="nope", qty=0), b"x", DlqReason.UNKNOWN_EVENT_TYPE),
        (wire(qty=0, occurred_at="2030-01-01T00:00:00Z"), b"x", DlqReason.INVALID_FIELD),
        (wire(occurred_at="2030-01-01T00:00:00Z"), b"x", DlqReason.KEY_MISMATCH),
        (
            wire("cycle_count", occurred_at="2030-01-01T00:00:00Z"),
            None,
            DlqReason.OCCURRED_IN_FUTURE,
        ),
    ],
)
def test_first_failed_check_names_the_reason(
    body: dict[str, Any], key: bytes | None, expected: DlqReason
) -> None:
    assert reason_of(run(body, key=key)) is expected


def test_oversized_garbage_is_too_large() -> None:
    assert reason_of(run(b"\xff" * (MAX_MESSAGE_BYTES + 1))) is DlqReason.TOO_LARGE


def test_detail_is_bounded() -> None:
    outcome = run(wire(event_type="x" * 10_000))
    assert isinstance(outcome, Rejection)
    assert len(outcome.detail) <= 500


@given(st.binary(max_size=512), st.none() | st.binary(max_size=16))
def test_decode_never_raises_on_bytes(raw: bytes, key: bytes | None) -> None:
    assert decode(raw, key, now_us=NOW_US, retention_us=RETENTION_US) is not None


# Every character UTF-8 can encode, i.e. all but the surrogates (category Cs): the same set
# as st.text()'s default codec="utf-8", without the one-off scan of all of Unicode that
# codec= costs on a machine with no .hypothesis/ cache (over a second, so too_slow fired).
_TEXT = st.text(st.characters(exclude_categories=["Cs"]))


@given(
    st.dictionaries(
        st.sampled_from(sorted(wire())),
        st.none() | st.integers() | _TEXT | st.booleans() | st.floats(),
    )
)
def test_decode_never_raises_on_hostile_fields(over: dict[str, Any]) -> None:
    assert run(wire(**over), key=None) is not None
