"""The simulator's own stock book: what the WMS/OMS believes, kept from the events it emits.

It is not stockline's ledger fold: it applies each event once, in the order the simulator
emits them (strictly increasing `occurred_at`), which is when the two must agree. A cycle
count re-bases on_hand to the counted quantity; an order line reserves until it is picked
or cancelled; a hold holds until released or committed by an order naming it at its node
(the domain keys a hold by reservation and node too); an ASN or transfer is inbound until
received. Every end follows its start in the simulator's order, so, unlike the ledger,
the book need not remember an end that came first.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stockline.domain.events import (
    Adjustment,
    CycleCount,
    Event,
    HoldPlaced,
    HoldReleased,
    InboundExpected,
    LostSale,
    OrderCancelled,
    OrderPlaced,
    Pick,
    Receipt,
    TransferReceived,
    TransferShipped,
)
from stockline.domain.ledger import NodeStock

Key = tuple[str, str]
"""(node_id, sku)"""


@dataclass(frozen=True, slots=True)
class Level:
    on_hand: int
    reserved: int
    inbound: int
    held: int


@dataclass
class StockBook:
    """Per (node, sku): on_hand, reserved (open order lines), held (open holds), inbound
    (open supplies).

    `buffer` is what the promise holds back (the policy's units never promised, as
    stockline's ATP does); `safety_stock` is a planning level kept for the report, never
    subtracted. Unknown keys read as zero."""

    on_hand: defaultdict[Key, int] = field(default_factory=lambda: defaultdict(int))
    lines: dict[str, tuple[Key, int]] = field(default_factory=dict)
    supplies: dict[str, tuple[Key, int]] = field(default_factory=dict)
    holds: dict[tuple[str, str], tuple[Key, int]] = field(default_factory=dict)
    """Open holds by (reservation_id, node_id)."""
    safety_stock: dict[Key, int] = field(default_factory=dict)
    buffer: dict[Key, int] = field(default_factory=dict)
    touched: set[Key] = field(default_factory=set)
    _reserved: defaultdict[Key, int] = field(default_factory=lambda: defaultdict(int))
    _inbound: defaultdict[Key, int] = field(default_factory=lambda: defaultdict(int))
    _held: defaultdict[Key, int] = field(default_factory=lambda: defaultdict(int))

    def reserved(self, key: Key) -> int:
        return self._reserved[key]

    def held(self, key: Key) -> int:
        return self._held[key]

    def inbound(self, key: Key) -> int:
        return self._inbound[key]

    def level(self, key: Key) -> Level:
        return Level(self.on_hand[key], self.reserved(key), self.inbound(key), self.held(key))

    def free(self, key: Key) -> int:
        """Units on the shelf no order line or hold claims: what a shipment or a damage
        may take (a donor's shippable stock, DESIGN.md section 5)."""
        return self.on_hand[key] - self.reserved(key) - self.held(key)

    def atp(self, key: Key) -> int:
        """max(0, on_hand - reserved - held - buffer), as stockline defines it: a held unit
        is not promised to the next customer."""
        return max(0, self.free(key) - self.buffer.get(key, 0))

    def stock(self, key: Key) -> NodeStock:
        """The (node, sku) as stockline's ledger would hold it."""
        return NodeStock(self.on_hand[key], self.reserved(key), self.inbound(key), self.held(key))

    def position(self, key: Key) -> int:
        return self.free(key) + self.inbound(key)

    def apply(self, event: Event) -> None:
        """Apply one emitted event; order ids, reservation ids, ASN ids and transfer ids
        must be unique. A lost sale moves no stock, nor does a hold extension."""
        if isinstance(event, LostSale):
            return
        key = (event.node_id, event.sku)
        self.touched.add(key)
        if isinstance(event, Receipt | TransferReceived):
            self.on_hand[key] += event.qty
            self._receive(event.asn_id if isinstance(event, Receipt) else event.transfer_id)
        elif isinstance(event, Pick):
            self.on_hand[key] -= event.qty
            self._close_line(event.order_id)
        elif isinstance(event, OrderPlaced):
            self.lines[event.order_id] = (key, event.qty)
            self._reserved[key] += event.qty
            self._end_hold(event.reservation_id, event.node_id)
        elif isinstance(event, HoldPlaced):
            self.holds[(event.reservation_id, event.node_id)] = (key, event.qty)
            self._held[key] += event.qty
        elif isinstance(event, HoldReleased):
            self._end_hold(event.reservation_id, event.node_id)
        elif isinstance(event, OrderCancelled):
            self._close_line(event.order_id)
        elif isinstance(event, CycleCount):
            self.on_hand[key] = event.counted_qty
        elif isinstance(event, Adjustment):
            self.on_hand[key] += event.delta
        elif isinstance(event, InboundExpected):
            self._expect(event.asn_id, key, event.qty)
        elif isinstance(event, TransferShipped):
            self.on_hand[key] -= event.qty
            to_key = (event.to_node, event.sku)
            self.touched.add(to_key)
            self._expect(event.transfer_id, to_key, event.qty)

    def _close_line(self, order_id: str | None) -> None:
        if order_id is not None and order_id in self.lines:
            key, qty = self.lines.pop(order_id)
            self._reserved[key] -= qty

    def _end_hold(self, reservation_id: str | None, node_id: str) -> None:
        if reservation_id is not None and (reservation_id, node_id) in self.holds:
            key, qty = self.holds.pop((reservation_id, node_id))
            self._held[key] -= qty

    def _expect(self, supply_id: str, key: Key, qty: int) -> None:
        self.supplies[supply_id] = (key, qty)
        self._inbound[key] += qty

    def _receive(self, supply_id: str | None) -> None:
        if supply_id is not None and supply_id in self.supplies:
            key, qty = self.supplies.pop(supply_id)
            self._inbound[key] -= qty


def divergence(book: StockBook, records: Mapping[Key, Mapping[str, Any]]) -> tuple[int, list[Key]]:
    """How far stockline's latest `inventory.atp.nodes` records (per (node, sku): `{on_hand,
    reserved, held, inbound, ...}`) are from the book: the summed absolute differences of
    on_hand, reserved, inbound and held over every (node, sku) either side knows, and the
    keys that differ.
    """
    theirs = {
        key: Level(r["on_hand"], r["reserved"], r["inbound"], r["held"])
        for key, r in records.items()
    }
    units, differing = 0, []
    for key in sorted(book.touched | theirs.keys()):
        mine, other = book.level(key), theirs.get(key, Level(0, 0, 0, 0))
        gap = (
            abs(mine.on_hand - other.on_hand)
            + abs(mine.reserved - other.reserved)
            + abs(mine.inbound - other.inbound)
            + abs(mine.held - other.held)
        )
        if gap:
            units += gap
            differing.append(key)
    return units, differing
