"""What each event does to the ledgers of one SKU, as a few primitive effects.

Every event type reduces to five kinds of effect, so the in-memory ledger and the Redis
script implement five small rules instead of twelve event types:

- `Delta`: on_hand moves by `qty` at the time the event occurred (as-of cycle counts).
- `Count`: on_hand is re-based to `counted_qty` as of `occurred_us`.
- `LineChange`: an order line's placed/picked sums grow, or it is cancelled (final).
- `SupplyChange`: an inbound supply (ASN or transfer) grows its expected or received sum.
- `HoldChange`: a hold's placed sum grows, its expiry moves later, or it ends (released or
  committed; final).

and one that does not move stock:

- `Demand`: units demanded at a node on a day (for the demand estimate of section 5).
  Demand is what customers ordered (`order_placed` qty) plus picks that fulfil no known
  order (`pick` without order_id, e.g. a store's walk-in sale) plus requests refused for
  lack of stock (`lost_sale`, which has no other effect); a pick of an order line is
  that order's demand already counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import singledispatch

from stockline.domain.events import (
    Adjustment,
    CycleCount,
    Event,
    HoldExtended,
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


@dataclass(frozen=True, slots=True)
class Delta:
    node_id: str
    occurred_us: int
    qty: int


@dataclass(frozen=True, slots=True)
class Count:
    node_id: str
    occurred_us: int
    counted_qty: int


@dataclass(frozen=True, slots=True)
class LineChange:
    node_id: str
    order_id: str
    placed: int = 0
    picked: int = 0
    cancelled: bool = False


@dataclass(frozen=True, slots=True)
class SupplyChange:
    node_id: str
    supply_id: str
    expected: int = 0
    received: int = 0


@dataclass(frozen=True, slots=True)
class HoldChange:
    """A hold (reservation_id, node_id, sku): `placed` units more, an expiry of at least
    `expires_us` (0: no news of it), or its end (released or committed)."""

    node_id: str
    reservation_id: str
    placed: int = 0
    expires_us: int = 0
    ended: bool = False


@dataclass(frozen=True, slots=True)
class Demand:
    node_id: str
    day: int
    units: int


Effect = Delta | Count | LineChange | SupplyChange | HoldChange | Demand

US_PER_DAY = 86_400_000_000


def day_of(occurred_us: int) -> int:
    """The UTC day number (days since 1970-01-01) an instant falls on."""
    return occurred_us // US_PER_DAY


def asn_supply(asn_id: str) -> str:
    return f"asn:{asn_id}"


def transfer_supply(transfer_id: str) -> str:
    return f"transfer:{transfer_id}"


@singledispatch
def effects_of(event: Event) -> tuple[Effect, ...]:
    """The effects of one event on the ledgers of its SKU (all of one SKU)."""
    raise TypeError(f"no effects known for {type(event).__name__}")


@effects_of.register
def _(event: Receipt) -> tuple[Effect, ...]:
    delta = Delta(event.node_id, event.occurred_us, event.qty)
    if event.asn_id is None:
        return (delta,)
    return delta, SupplyChange(event.node_id, asn_supply(event.asn_id), received=event.qty)


@effects_of.register
def _(event: Pick) -> tuple[Effect, ...]:
    delta = Delta(event.node_id, event.occurred_us, -event.qty)
    if event.order_id is None:
        return delta, Demand(event.node_id, day_of(event.occurred_us), event.qty)
    return delta, LineChange(event.node_id, event.order_id, picked=event.qty)


@effects_of.register
def _(event: CycleCount) -> tuple[Effect, ...]:
    return (Count(event.node_id, event.occurred_us, event.counted_qty),)


@effects_of.register
def _(event: OrderPlaced) -> tuple[Effect, ...]:
    line = LineChange(event.node_id, event.order_id, placed=event.qty)
    demand = Demand(event.node_id, day_of(event.occurred_us), event.qty)
    if event.reservation_id is None:
        return line, demand
    return line, demand, HoldChange(event.node_id, event.reservation_id, ended=True)


@effects_of.register
def _(event: OrderCancelled) -> tuple[Effect, ...]:
    return (LineChange(event.node_id, event.order_id, cancelled=True),)


@effects_of.register
def _(event: Adjustment) -> tuple[Effect, ...]:
    return (Delta(event.node_id, event.occurred_us, event.delta),)


@effects_of.register
def _(event: InboundExpected) -> tuple[Effect, ...]:
    return (SupplyChange(event.node_id, asn_supply(event.asn_id), expected=event.qty),)


@effects_of.register
def _(event: TransferShipped) -> tuple[Effect, ...]:
    supply = transfer_supply(event.transfer_id)
    return (
        Delta(event.node_id, event.occurred_us, -event.qty),
        SupplyChange(event.to_node, supply, expected=event.qty),
    )


@effects_of.register
def _(event: TransferReceived) -> tuple[Effect, ...]:
    supply = transfer_supply(event.transfer_id)
    return (
        Delta(event.node_id, event.occurred_us, event.qty),
        SupplyChange(event.node_id, supply, received=event.qty),
    )


@effects_of.register
def _(event: LostSale) -> tuple[Effect, ...]:
    return (Demand(event.node_id, day_of(event.occurred_us), event.qty),)


@effects_of.register
def _(event: HoldPlaced) -> tuple[Effect, ...]:
    return (HoldChange(event.node_id, event.reservation_id, event.qty, event.expires_us),)


@effects_of.register
def _(event: HoldExtended) -> tuple[Effect, ...]:
    return (HoldChange(event.node_id, event.reservation_id, expires_us=event.expires_us),)


@effects_of.register
def _(event: HoldReleased) -> tuple[Effect, ...]:
    return (HoldChange(event.node_id, event.reservation_id, ended=True),)
