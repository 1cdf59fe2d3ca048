"""Inventory events as the domain sees them: frozen values, already validated.

Times are integer microseconds since the Unix epoch (`occurred_us`), exact in a Lua double
and in a Redis sorted-set score, so the Python fold and the Redis script order them alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class HoldReleaseReason(StrEnum):
    RELEASED = "released"  # let go by the storefront (or undone by the API)
    EXPIRED = "expired"  # past its expires_at; stockline publishes these itself


class AdjustmentReason(StrEnum):
    DAMAGED = "damaged"
    SHRINK = "shrink"
    FOUND = "found"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Event:
    """Fields every event carries; `event_id` is the idempotency key."""

    event_id: str
    occurred_us: int
    source: str
    node_id: str
    sku: str


@dataclass(frozen=True, slots=True)
class Receipt(Event):
    qty: int
    asn_id: str | None = None


@dataclass(frozen=True, slots=True)
class Pick(Event):
    qty: int
    order_id: str | None = None


@dataclass(frozen=True, slots=True)
class CycleCount(Event):
    counted_qty: int


@dataclass(frozen=True, slots=True)
class OrderPlaced(Event):
    """An order line reserves qty; with reservation_id it commits that hold (reservation,
    node, sku), which holds nothing from then on."""

    qty: int
    order_id: str
    reservation_id: str | None = None


@dataclass(frozen=True, slots=True)
class OrderCancelled(Event):
    order_id: str


@dataclass(frozen=True, slots=True)
class Adjustment(Event):
    delta: int
    reason: AdjustmentReason


@dataclass(frozen=True, slots=True)
class InboundExpected(Event):
    qty: int
    asn_id: str
    eta: str | None = None


@dataclass(frozen=True, slots=True)
class TransferShipped(Event):
    qty: int
    transfer_id: str
    to_node: str


@dataclass(frozen=True, slots=True)
class TransferReceived(Event):
    qty: int
    transfer_id: str
    from_node: str


@dataclass(frozen=True, slots=True)
class LostSale(Event):
    """A request refused at node_id for lack of stock: demand, no stock effect."""

    qty: int
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class HoldPlaced(Event):
    """A soft hold of qty at node_id for a reservation, until `expires_us` (µs since the
    epoch) unless extended, released or committed first."""

    qty: int
    reservation_id: str
    expires_us: int


@dataclass(frozen=True, slots=True)
class HoldExtended(Event):
    """The hold's expiry is the latest `expires_us` its placement and extensions name."""

    reservation_id: str
    expires_us: int


@dataclass(frozen=True, slots=True)
class HoldReleased(Event):
    """The hold holds nothing from then on (also when it arrives before the placement)."""

    reservation_id: str
    reason: HoldReleaseReason


InventoryEvent = (
    Receipt
    | Pick
    | CycleCount
    | OrderPlaced
    | OrderCancelled
    | Adjustment
    | InboundExpected
    | TransferShipped
    | TransferReceived
    | LostSale
    | HoldPlaced
    | HoldExtended
    | HoldReleased
)

EVENT_TYPES: dict[str, type[Event]] = {
    "receipt": Receipt,
    "pick": Pick,
    "cycle_count": CycleCount,
    "order_placed": OrderPlaced,
    "order_cancelled": OrderCancelled,
    "adjustment": Adjustment,
    "inbound_expected": InboundExpected,
    "transfer_shipped": TransferShipped,
    "transfer_received": TransferReceived,
    "lost_sale": LostSale,
    "hold_placed": HoldPlaced,
    "hold_extended": HoldExtended,
    "hold_released": HoldReleased,
}
"""Wire `event_type` -> domain class, the one table both directions use."""

EVENT_TYPE_OF: dict[type[Event], str] = {cls: name for name, cls in EVENT_TYPES.items()}


def event_type_of(event: Event) -> str:
    """The wire `event_type` of a domain event."""
    return EVENT_TYPE_OF[type(event)]
