"""Events for ledger tests: terse builders for worked examples, hypothesis strategies for
random event sets. Times are seconds after T0 in the builders, microseconds in strategies.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

from hypothesis import strategies as st

from stockline.domain.events import (
    Adjustment,
    AdjustmentReason,
    CycleCount,
    HoldExtended,
    HoldPlaced,
    HoldReleased,
    HoldReleaseReason,
    InboundExpected,
    InventoryEvent,
    OrderCancelled,
    OrderPlaced,
    Pick,
    Receipt,
    TransferReceived,
    TransferShipped,
)

T0 = 1_790_000_000_000_000
"""2026-09-21T13:33:20Z in microseconds: real-sized times, as a Lua double must hold them."""

SKU = "SKU-1"
DC = "dc-1"
STORE = "store-7"

_auto_ids = itertools.count(1)


def at(seconds: int) -> int:
    """occurred_us of a moment `seconds` after T0."""
    return T0 + seconds * 1_000_000


def _meta(event_id: str | None, t: int, node: str, sku: str) -> dict[str, Any]:
    event_id = event_id or f"auto-{next(_auto_ids):06d}"
    return {
        "event_id": event_id,
        "occurred_us": at(t),
        "source": "wms",
        "node_id": node,
        "sku": sku,
    }


def receipt(
    qty: int,
    *,
    t: int = 0,
    node: str = DC,
    sku: str = SKU,
    asn_id: str | None = None,
    event_id: str | None = None,
) -> Receipt:
    return Receipt(**_meta(event_id, t, node, sku), qty=qty, asn_id=asn_id)


def pick(
    qty: int,
    *,
    t: int = 0,
    node: str = DC,
    sku: str = SKU,
    order_id: str | None = None,
    event_id: str | None = None,
) -> Pick:
    return Pick(**_meta(event_id, t, node, sku), qty=qty, order_id=order_id)


def cycle_count(
    counted_qty: int, *, t: int = 0, node: str = DC, sku: str = SKU, event_id: str | None = None
) -> CycleCount:
    return CycleCount(**_meta(event_id, t, node, sku), counted_qty=counted_qty)


def order_placed(
    qty: int,
    order_id: str,
    *,
    t: int = 0,
    node: str = DC,
    sku: str = SKU,
    reservation_id: str | None = None,
    event_id: str | None = None,
) -> OrderPlaced:
    return OrderPlaced(
        **_meta(event_id, t, node, sku), qty=qty, order_id=order_id, reservation_id=reservation_id
    )


def hold_placed(
    qty: int,
    reservation_id: str,
    *,
    expires: int = 900,
    t: int = 0,
    node: str = DC,
    sku: str = SKU,
    event_id: str | None = None,
) -> HoldPlaced:
    """A hold until `expires` seconds after T0."""
    return HoldPlaced(
        **_meta(event_id, t, node, sku),
        qty=qty,
        reservation_id=reservation_id,
        expires_us=at(expires),
    )


def hold_extended(
    reservation_id: str,
    *,
    expires: int,
    t: int = 0,
    node: str = DC,
    sku: str = SKU,
    event_id: str | None = None,
) -> HoldExtended:
    return HoldExtended(
        **_meta(event_id, t, node, sku), reservation_id=reservation_id, expires_us=at(expires)
    )


def hold_released(
    reservation_id: str,
    reason: HoldReleaseReason = HoldReleaseReason.RELEASED,
    *,
    t: int = 0,
    node: str = DC,
    sku: str = SKU,
    event_id: str | None = None,
) -> HoldReleased:
    return HoldReleased(
        **_meta(event_id, t, node, sku), reservation_id=reservation_id, reason=reason
    )


def order_cancelled(
    order_id: str, *, t: int = 0, node: str = DC, sku: str = SKU, event_id: str | None = None
) -> OrderCancelled:
    return OrderCancelled(**_meta(event_id, t, node, sku), order_id=order_id)


def adjustment(
    delta: int,
    reason: AdjustmentReason = AdjustmentReason.OTHER,
    *,
    t: int = 0,
    node: str = DC,
    sku: str = SKU,
    event_id: str | None = None,
) -> Adjustment:
    return Adjustment(**_meta(event_id, t, node, sku), delta=delta, reason=reason)


def inbound_expected(
    qty: int,
    asn_id: str,
    *,
    t: int = 0,
    node: str = DC,
    sku: str = SKU,
    event_id: str | None = None,
) -> InboundExpected:
    return InboundExpected(**_meta(event_id, t, node, sku), qty=qty, asn_id=asn_id)


def transfer_shipped(
    qty: int,
    transfer_id: str,
    *,
    to_node: str,
    t: int = 0,
    node: str = DC,
    sku: str = SKU,
    event_id: str | None = None,
) -> TransferShipped:
    return TransferShipped(
        **_meta(event_id, t, node, sku), qty=qty, transfer_id=transfer_id, to_node=to_node
    )


def transfer_received(
    qty: int,
    transfer_id: str,
    *,
    from_node: str,
    t: int = 0,
    node: str = DC,
    sku: str = SKU,
    event_id: str | None = None,
) -> TransferReceived:
    return TransferReceived(
        **_meta(event_id, t, node, sku), qty=qty, transfer_id=transfer_id, from_node=from_node
    )


# Random event sets. Small alphabets so lines, supplies and count ties collide often; ASN and
# transfer ids share one alphabet so the two kinds of supply must stay apart.
NODES = ("n1", "n2", "n3")
SKUS = ("s1", "s2")
ORDERS = ("o1", "o2")
SUPPLY_IDS = ("x1", "x2")
RESERVATIONS = ("r1", "r2")

_nodes = st.sampled_from(NODES)
_qty = st.integers(1, 6)
_common: dict[str, st.SearchStrategy[Any]] = {
    "event_id": st.text("abcd", min_size=1, max_size=3),
    "occurred_us": st.integers(T0, T0 + 3),  # a few microseconds: ties are common
    "source": st.just("wms"),
    "node_id": _nodes,
    "sku": st.sampled_from(SKUS),
}

_on_hand_events: list[st.SearchStrategy[InventoryEvent]] = [
    st.builds(Receipt, **_common, qty=_qty, asn_id=st.none() | st.sampled_from(SUPPLY_IDS)),
    st.builds(Pick, **_common, qty=_qty, order_id=st.none() | st.sampled_from(ORDERS)),
    st.builds(CycleCount, **_common, counted_qty=st.integers(0, 12)),
    st.builds(
        Adjustment,
        **_common,
        delta=st.integers(-6, 6).filter(bool),
        reason=st.sampled_from(AdjustmentReason),
    ),
]
_other_events: list[st.SearchStrategy[InventoryEvent]] = [
    st.builds(
        OrderPlaced,
        **_common,
        qty=_qty,
        order_id=st.sampled_from(ORDERS),
        reservation_id=st.none() | st.sampled_from(RESERVATIONS),
    ),
    st.builds(
        HoldPlaced,
        **_common,
        qty=_qty,
        reservation_id=st.sampled_from(RESERVATIONS),
        expires_us=st.integers(T0, T0 + 6),
    ),
    st.builds(
        HoldExtended,
        **_common,
        reservation_id=st.sampled_from(RESERVATIONS),
        expires_us=st.integers(T0, T0 + 6),
    ),
    st.builds(
        HoldReleased,
        **_common,
        reservation_id=st.sampled_from(RESERVATIONS),
        reason=st.sampled_from(HoldReleaseReason),
    ),
    st.builds(OrderCancelled, **_common, order_id=st.sampled_from(ORDERS)),
    st.builds(InboundExpected, **_common, qty=_qty, asn_id=st.sampled_from(SUPPLY_IDS)),
    st.builds(
        TransferShipped,
        **_common,
        qty=_qty,
        transfer_id=st.sampled_from(SUPPLY_IDS),
        to_node=_nodes,
    ),
    st.builds(
        TransferReceived,
        **_common,
        qty=_qty,
        transfer_id=st.sampled_from(SUPPLY_IDS),
        from_node=_nodes,
    ),
]


def _unique(
    events: st.SearchStrategy[InventoryEvent], max_size: int
) -> st.SearchStrategy[list[InventoryEvent]]:
    return st.lists(events, max_size=max_size, unique_by=lambda event: event.event_id)


def event_sets(max_size: int = 30) -> st.SearchStrategy[list[InventoryEvent]]:
    """Distinct events (unique event_ids) of every type over a few nodes, SKUs, orders and
    supplies."""
    return _unique(st.one_of(*_on_hand_events, *_other_events), max_size)


def on_hand_event_sets(max_size: int = 12) -> st.SearchStrategy[list[InventoryEvent]]:
    """Distinct counts and deltas at one node of one SKU: count ties and late deltas galore."""
    one_ledger = st.one_of(*_on_hand_events).map(
        lambda event: replace(event, node_id=NODES[0], sku=SKUS[0])
    )
    return _unique(one_ledger, max_size)


@st.composite
def arrivals(draw: st.DrawFn, events: list[InventoryEvent]) -> list[InventoryEvent]:
    """The events in any order, some of them delivered more than once."""
    repeats = draw(st.lists(st.sampled_from(events), max_size=10)) if events else []
    return draw(st.permutations(events + repeats))
