"""How the simulated planners act on reorder and rebalance signals (DESIGN.md section 5).

- A reorder `{node_id, sku, suggested_qty}` becomes a supplier order at once: an
  `inbound_expected` ASN now, and its `receipt` after the policy's supplier lead time.
- A rebalance `{from_node, to_node, qty}` becomes a `transfer_shipped` from the donor now
  (never more than the donor's free stock; nothing when it has none) and the
  `transfer_received` at the short node after the lane's transit days (a 0-day lane
  delivers `SAME_DAY_US` later).

A signal id seen before is ignored, as DESIGN.md asks of consumers. Events come back in
simulated time (`occurred_us` is simulated microseconds); the generator stamps them.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Final

from stockline.contracts.signals import RebalanceRecord, ReorderRecord, SignalRecord
from stockline.domain.events import InboundExpected, Receipt, TransferReceived, TransferShipped
from stockline.domain.network import Network
from stockline.simulation.model import DAY_US, HOUR_US
from stockline.simulation.stock import StockBook

SOURCE: Final = "stockline-sim"
SAME_DAY_US: Final = 4 * HOUR_US
REORDER: Final = "reorder"
REBALANCE: Final = "rebalance"


@dataclass(frozen=True, slots=True)
class Arrival:
    """Supply that lands at simulated `at_us`: an ASN's receipt or a transfer's receipt."""

    at_us: int
    event: Receipt | TransferReceived


@dataclass(frozen=True, slots=True)
class Reaction:
    now: InboundExpected | TransferShipped
    later: Arrival


@dataclass
class Ids:
    """Unique ids of one run: `next("ASN")` -> "ASN-<tag>-000001"."""

    tag: str
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def next(self, prefix: str) -> str:
        return f"{prefix}-{self.tag}-{next(self._counter):06d}"


@dataclass
class Reactor:
    network: Network
    ids: Ids
    seen: set[str] = field(default_factory=set)

    def react(self, signal: SignalRecord, now_us: int, book: StockBook) -> Reaction | None:
        """What the planners do about one signal at simulated `now_us`; None when they do
        nothing (a repeated signal id, or a donor with no free stock left)."""
        if signal.signal_id in self.seen:
            return None
        self.seen.add(signal.signal_id)
        if isinstance(signal, ReorderRecord):
            return self._reorder(signal, now_us)
        return self._rebalance(signal, now_us, book)

    def _reorder(self, signal: ReorderRecord, now_us: int) -> Reaction:
        node_id, sku, qty = signal.node_id, signal.sku, signal.suggested_qty
        lead_days = self.network.policy_for(sku, node_id).supplier_lead_time_days
        asn_id = self.ids.next("ASN")
        expected = InboundExpected(self.ids.next("sim"), now_us, SOURCE, node_id, sku, qty, asn_id)
        at = now_us + lead_days * DAY_US
        receipt = Receipt(self.ids.next("sim"), at, SOURCE, node_id, sku, qty, asn_id)
        return Reaction(expected, Arrival(at, receipt))

    def _rebalance(self, signal: RebalanceRecord, now_us: int, book: StockBook) -> Reaction | None:
        sku, donor, short = signal.sku, signal.from_node, signal.to_node
        qty = min(signal.qty, book.free((donor, sku)))
        if qty < 1:
            return None
        transfer_id = self.ids.next("TR")
        shipped = TransferShipped(
            self.ids.next("sim"), now_us, SOURCE, donor, sku, qty, transfer_id, to_node=short
        )
        at = now_us + transit_us(self.network, donor, short, signal.lane_days)
        received = TransferReceived(
            self.ids.next("sim"), at, SOURCE, short, sku, qty, transfer_id, from_node=donor
        )
        return Reaction(shipped, Arrival(at, received))


def transit_us(network: Network, from_node: str, to_node: str, fallback_days: int) -> int:
    """Simulated time a transfer spends on the lane (the file's transit days)."""
    lane = network.lane(from_node, to_node)
    days = lane.transit_days if lane is not None else fallback_days
    return days * DAY_US if days > 0 else SAME_DAY_US
