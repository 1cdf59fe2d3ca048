"""Raw Kafka message <-> domain event, with every inbound rejection named by a DLQ reason.

`decode` is the only way inbound bytes become domain events; it never raises. A message is
checked in this order and the first failed check names the reason: size, JSON, event_type,
schema_version, fields, key, clock (future), retention (stale cycle count). Field errors are
reported all at once by the validator; the highest-ranked one (in that order) is kept.

Classification decisions: a JSON value that is not an object is `bad_json`; a missing or
non-string `event_type` is `unknown_event_type`; a missing or non-integer `schema_version`
is `unsupported_schema_version`; an empty key (b"") is a present key and must equal the sku.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any, Final

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from stockline.contracts import rfc3339
from stockline.contracts.events import EPOCH_US_FIELDS, EVENT_ADAPTER
from stockline.domain.events import CycleCount, InventoryEvent, event_type_of

MAX_MESSAGE_BYTES: Final = 65_536
MAX_FUTURE_US: Final = 5 * 60 * 1_000_000
MAX_DETAIL_CHARS: Final = 500
SCHEMA_VERSION: Final = 1
_COMMON: Final = ("event_id", "occurred_us", "source", "node_id", "sku")
_WIRE_TIMES: Final = {domain: wire for wire, domain in EPOCH_US_FIELDS.items()}


class DlqReason(StrEnum):
    """Why a message went to `inventory.dlq`; the value is the `reason` header."""

    TOO_LARGE = "too_large"
    BAD_JSON = "bad_json"
    UNKNOWN_EVENT_TYPE = "unknown_event_type"
    UNSUPPORTED_SCHEMA_VERSION = "unsupported_schema_version"
    INVALID_FIELD = "invalid_field"
    KEY_MISMATCH = "key_mismatch"
    OCCURRED_IN_FUTURE = "occurred_in_future"
    STALE_COUNT = "stale_count"


_RANK: Final = {reason: rank for rank, reason in enumerate(DlqReason)}


@dataclass(frozen=True, slots=True)
class Rejection:
    """A message refused by `decode`; `detail` names the field, at most 500 chars."""

    reason: DlqReason
    detail: str


def decode(
    raw: bytes, key: bytes | None, *, now_us: int, retention_us: int
) -> InventoryEvent | Rejection:
    """The domain event in `raw`, or why it belongs in the DLQ. Never raises.

    `key` is the Kafka message key (None when absent). `now_us` is the receiver's clock and
    `retention_us` the dedup retention window, both in microseconds.
    """
    if len(raw) > MAX_MESSAGE_BYTES:
        return Rejection(DlqReason.TOO_LARGE, f"{len(raw)} bytes > {MAX_MESSAGE_BYTES}")
    try:
        event = EVENT_ADAPTER.validate_json(raw).to_domain()
    except ValidationError as exc:
        return _field_rejection(exc.errors(include_url=False, include_input=False))
    return _context_rejection(event, key, now_us, retention_us) or event


def _context_rejection(
    event: InventoryEvent, key: bytes | None, now_us: int, retention_us: int
) -> Rejection | None:
    """Checks that need the message key or the clock."""
    if key is not None and key != event.sku.encode():
        detail = f"key {key[:200]!r} != sku {event.sku!r}"
        return Rejection(DlqReason.KEY_MISMATCH, detail)
    if event.occurred_us > now_us + MAX_FUTURE_US:
        ahead_s = (event.occurred_us - now_us) / 1e6
        return Rejection(DlqReason.OCCURRED_IN_FUTURE, f"occurred_at: {ahead_s:.1f}s ahead")
    if isinstance(event, CycleCount) and event.occurred_us < now_us - retention_us:
        detail = f"occurred_at: cycle count older than retention ({retention_us} us)"
        return Rejection(DlqReason.STALE_COUNT, detail)
    return None


def _field_rejection(errors: list[ErrorDetails]) -> Rejection:
    """The highest-ranked validation error as a rejection."""
    ranked = min(errors, key=lambda error: _RANK[_reason_of(error)])
    reason = _reason_of(ranked)
    field = ".".join(str(part) for part in ranked["loc"][1:])
    if reason is DlqReason.UNKNOWN_EVENT_TYPE:
        field = "event_type"
    detail = f"{field}: {ranked['msg']}" if field else ranked["msg"]
    return Rejection(reason, detail[:MAX_DETAIL_CHARS])


def _reason_of(error: ErrorDetails) -> DlqReason:
    kind, loc = error["type"], error["loc"]
    if not loc and kind in ("json_invalid", "dict_type"):
        return DlqReason.BAD_JSON
    if not loc:
        return DlqReason.UNKNOWN_EVENT_TYPE
    if loc[1:2] == ("schema_version",):
        return DlqReason.UNSUPPORTED_SCHEMA_VERSION
    return DlqReason.INVALID_FIELD


def encode(event: InventoryEvent) -> bytes:
    """Compact UTF-8 JSON for `event`, such that `decode(encode(e), ...) == e`.

    Optional fields that are None are omitted; times in microseconds (`occurred_us`,
    `expires_us`) become RFC 3339 UTC text, with a microsecond fraction only when non-zero.
    Raises ValueError (a pydantic ValidationError) if the event breaks a field rule, so
    producers cannot publish what `decode` would send to the DLQ for its fields.
    """
    raw = json.dumps(_wire_dict(event), ensure_ascii=False, separators=(",", ":")).encode()
    EVENT_ADAPTER.validate_json(raw)
    return raw


def _wire_dict(event: InventoryEvent) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_id": event.event_id,
        "event_type": event_type_of(event),
        "schema_version": SCHEMA_VERSION,
        "occurred_at": rfc3339.render_utc(event.occurred_us),
        "source": event.source,
        "node_id": event.node_id,
        "sku": event.sku,
    }
    for field in fields(event):
        value = getattr(event, field.name)
        if field.name in _COMMON or value is None:
            continue
        if field.name in _WIRE_TIMES:
            body[_WIRE_TIMES[field.name]] = rfc3339.render_utc(value)
        else:
            body[field.name] = value
    return body
