"""encode is the inverse of decode over generated domain events."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stockline.contracts.codec import decode, encode
from stockline.contracts.rfc3339 import parse, to_epoch_us
from stockline.domain import events as ev

NOW_US = to_epoch_us(parse("2026-11-25T10:00:00Z"))
FOREVER_US = NOW_US + 1

# UTF-8 encodes every character but the surrogates (Cs); excluding them says the same as
# codec="utf-8" (text's and from_regex's default) without its one-off scan of all of
# Unicode, over a second on a machine with no .hypothesis/ cache.
utf8 = st.characters(exclude_categories=["Cs"])
ids = st.text(utf8, min_size=1, max_size=128)
sources = st.text(utf8, min_size=1, max_size=64)
codes = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}", fullmatch=True, alphabet=utf8)
qtys = st.integers(1, 1_000_000)
offsets = st.integers(-23 * 60, 23 * 60).map(lambda m: timezone(timedelta(minutes=m)))
expiries = st.integers(0, 2**53)  # every time whose microseconds a double holds exactly
etas = st.datetimes(min_value=datetime(1971, 1, 1), timezones=offsets).map(datetime.isoformat)
common: dict[str, Any] = {
    "event_id": ids,
    "occurred_us": st.integers(0, NOW_US + 300_000_000),
    "source": sources,
    "node_id": codes,
    "sku": codes,
}
events = st.one_of(
    st.builds(ev.Receipt, qty=qtys, asn_id=st.none() | ids, **common),
    st.builds(ev.Pick, qty=qtys, order_id=st.none() | ids, **common),
    st.builds(ev.CycleCount, counted_qty=st.integers(0, 10**9), **common),
    st.builds(ev.OrderPlaced, qty=qtys, order_id=ids, reservation_id=st.none() | ids, **common),
    st.builds(ev.OrderCancelled, order_id=ids, **common),
    st.builds(
        ev.Adjustment,
        delta=st.integers(-1_000_000, 1_000_000).filter(bool),
        reason=st.sampled_from(ev.AdjustmentReason),
        **common,
    ),
    st.builds(ev.InboundExpected, qty=qtys, asn_id=ids, eta=st.none() | etas, **common),
    st.builds(ev.TransferShipped, qty=qtys, transfer_id=ids, to_node=codes, **common),
    st.builds(ev.TransferReceived, qty=qtys, transfer_id=ids, from_node=codes, **common),
    st.builds(ev.LostSale, qty=qtys, reason=st.none() | sources, **common),
    st.builds(ev.HoldPlaced, qty=qtys, reservation_id=ids, expires_us=expiries, **common),
    st.builds(ev.HoldExtended, reservation_id=ids, expires_us=expiries, **common),
    st.builds(
        ev.HoldReleased,
        reservation_id=ids,
        reason=st.sampled_from(ev.HoldReleaseReason),
        **common,
    ),
)


@given(events)
def test_decode_inverts_encode(event: ev.InventoryEvent) -> None:
    raw = encode(event)
    assert decode(raw, event.sku.encode(), now_us=NOW_US, retention_us=FOREVER_US) == event


def test_encode_is_compact_utc_json() -> None:
    event = ev.Pick("p-1", NOW_US, "wms", "DC-1", "SKU-1", 2)
    assert encode(event) == (
        b'{"event_id":"p-1","event_type":"pick","schema_version":1,'
        b'"occurred_at":"2026-11-25T10:00:00Z","source":"wms","node_id":"DC-1",'
        b'"sku":"SKU-1","qty":2}'
    )


def test_encode_renders_microseconds_when_present() -> None:
    event = ev.CycleCount("c-1", NOW_US + 7, "pos", "S-1", "SKU-1", 0)
    assert json.loads(encode(event))["occurred_at"] == "2026-11-25T10:00:00.000007Z"
    moment = datetime(2026, 11, 25, 10, 0, 0, 7, tzinfo=UTC)
    assert to_epoch_us(moment) == NOW_US + 7


def test_encode_renders_expires_at_like_occurred_at() -> None:
    event = ev.HoldPlaced("h-1", NOW_US, "api", "DC-1", "SKU-1", 2, "R-1", NOW_US + 900_000_001)
    assert encode(event) == (
        b'{"event_id":"h-1","event_type":"hold_placed","schema_version":1,'
        b'"occurred_at":"2026-11-25T10:00:00Z","source":"api","node_id":"DC-1",'
        b'"sku":"SKU-1","qty":2,"reservation_id":"R-1","expires_at":"2026-11-25T10:15:00.000001Z"}'
    )
    extended = ev.HoldExtended("h-2", NOW_US, "api", "DC-1", "SKU-1", "R-1", NOW_US)
    assert json.loads(encode(extended))["expires_at"] == "2026-11-25T10:00:00Z"


def test_encode_omits_an_absent_reservation_id_and_names_the_release_reason() -> None:
    placed = ev.OrderPlaced("o-1", NOW_US, "oms", "DC-1", "SKU-1", 1, "O-1")
    committing = ev.OrderPlaced("o-2", NOW_US, "oms", "DC-1", "SKU-1", 1, "O-2", "R-1")
    released = ev.HoldReleased(
        "h-3", NOW_US, "api", "DC-1", "SKU-1", "R-1", ev.HoldReleaseReason.EXPIRED
    )
    assert "reservation_id" not in json.loads(encode(placed))
    assert json.loads(encode(committing))["reservation_id"] == "R-1"
    assert json.loads(encode(released))["reason"] == "expired"


@pytest.mark.parametrize(
    "event",
    [
        ev.Receipt("r-1", NOW_US, "wms", "DC 1", "SKU-1", 1),
        ev.Receipt("r-1", NOW_US, "wms", "DC-1", "SKU-1", 0),
        ev.Adjustment("a-1", NOW_US, "wms", "DC-1", "SKU-1", 0, ev.AdjustmentReason.FOUND),
        ev.InboundExpected("i-1", NOW_US, "wms", "DC-1", "SKU-1", 1, "A-1", "tomorrow"),
        ev.OrderPlaced("o-1", NOW_US, "oms", "DC-1", "SKU-1", 1, "O-1", ""),
        ev.HoldPlaced("h-1", NOW_US, "api", "DC-1", "SKU-1", 0, "R-1", NOW_US),
        ev.HoldPlaced("h-1", NOW_US, "api", "DC-1", "SKU-1", 1, "R-1", -1),
        ev.HoldExtended("h-2", NOW_US, "api", "DC-1", "SKU-1", "R-1", 2**53 + 1),
        ev.HoldReleased("h-3", NOW_US, "api", "DC-1", "SKU-1", "", ev.HoldReleaseReason.RELEASED),
    ],
)
def test_encode_refuses_what_decode_would_reject(event: ev.InventoryEvent) -> None:
    with pytest.raises(ValueError, match="validation error"):
        encode(event)
