"""An independent reference fold of DESIGN.md section 3, for property and contract tests.

It computes every node's stock straight from the definitions, over the whole SET of
distinct events at once: no arrival order, no incremental state, nothing shared with
stockline.domain.ledger or stockline.domain.effects (only the event dataclasses).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from stockline.domain.events import (
    Adjustment,
    CycleCount,
    Event,
    HoldPlaced,
    HoldReleased,
    InboundExpected,
    OrderCancelled,
    OrderPlaced,
    Pick,
    Receipt,
    TransferReceived,
    TransferShipped,
)

Stock = tuple[int, int, int, int]
"""(on_hand, reserved, inbound, held) of one (node, sku)."""


def reference_fold(events: Iterable[Event]) -> dict[str, dict[str, Stock]]:
    """sku -> node -> (on_hand, reserved, inbound, held) for the set of distinct events."""
    distinct: dict[str, Event] = {}
    for event in events:
        if distinct.setdefault(event.event_id, event) != event:
            raise ValueError(f"two different events share event_id {event.event_id!r}")
    by_sku: dict[str, list[Event]] = defaultdict(list)
    for event in distinct.values():
        by_sku[event.sku].append(event)
    return {sku: _fold_sku(sku_events) for sku, sku_events in sorted(by_sku.items())}


def _fold_sku(events: list[Event]) -> dict[str, Stock]:
    nodes = {node for event in events for node in _nodes_touched(event)}
    return {
        node: (
            _on_hand(events, node),
            _reserved(events, node),
            _inbound(events, node),
            _held(events, node),
        )
        for node in sorted(nodes)
    }


def _nodes_touched(event: Event) -> set[str]:
    if isinstance(event, TransferShipped):
        return {event.node_id, event.to_node}
    return {event.node_id}


def _delta(event: Event, node: str) -> int | None:
    """The on_hand delta an event makes at `node`, or None if it makes none there."""
    if event.node_id != node:
        return None
    match event:
        case Receipt(qty=qty) | TransferReceived(qty=qty):
            return qty
        case Pick(qty=qty) | TransferShipped(qty=qty):
            return -qty
        case Adjustment(delta=delta):
            return delta
    return None


def _on_hand(events: list[Event], node: str) -> int:
    deltas = [(e.occurred_us, d) for e in events if (d := _delta(e, node)) is not None]
    counts = [e for e in events if isinstance(e, CycleCount) and e.node_id == node]
    if not counts:
        return sum(qty for _, qty in deltas)
    latest = max(counts, key=lambda count: (count.occurred_us, count.event_id))
    return latest.counted_qty + sum(qty for at, qty in deltas if at > latest.occurred_us)


def _reserved(events: list[Event], node: str) -> int:
    placed: dict[str, int] = defaultdict(int)
    picked: dict[str, int] = defaultdict(int)
    cancelled: set[str] = set()
    for event in events:
        if event.node_id != node:
            continue
        match event:
            case OrderPlaced(order_id=order_id, qty=qty):
                placed[order_id] += qty
            case Pick(order_id=str(order_id), qty=qty):
                picked[order_id] += qty
            case OrderCancelled(order_id=order_id):
                cancelled.add(order_id)
    lines = set(placed) | set(picked) | cancelled
    return sum(0 if o in cancelled else max(0, placed[o] - picked[o]) for o in lines)


def _inbound(events: list[Event], node: str) -> int:
    """ASNs and transfers are separate supplies, even when an asn_id equals a transfer_id."""
    expected: dict[tuple[str, str], int] = defaultdict(int)
    received: dict[tuple[str, str], int] = defaultdict(int)
    for event in events:
        match event:
            case InboundExpected(asn_id=asn_id, qty=qty) if event.node_id == node:
                expected["asn", asn_id] += qty
            case Receipt(asn_id=str(asn_id), qty=qty) if event.node_id == node:
                received["asn", asn_id] += qty
            case TransferShipped(transfer_id=transfer_id, qty=qty, to_node=to_node) if (
                to_node == node
            ):
                expected["transfer", transfer_id] += qty
            case TransferReceived(transfer_id=transfer_id, qty=qty) if event.node_id == node:
                received["transfer", transfer_id] += qty
    supplies = set(expected) | set(received)
    return sum(max(0, expected[s] - received[s]) for s in supplies)


def _held(events: list[Event], node: str) -> int:
    """held(hold) = 0 if released or committed else placed_qty, per reservation at `node`."""
    placed: dict[str, int] = defaultdict(int)
    ended: set[str] = set()
    for event in events:
        if event.node_id != node:
            continue
        match event:
            case HoldPlaced(reservation_id=rid, qty=qty):
                placed[rid] += qty
            case HoldReleased(reservation_id=rid) | OrderPlaced(reservation_id=str(rid)):
                ended.add(rid)
    return sum(qty for rid, qty in placed.items() if rid not in ended)
