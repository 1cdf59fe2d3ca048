"""The stock ledger of one SKU across nodes, folded from its events (DESIGN.md section 3).

The ledger is a pure function of the set of distinct events: `SkuLedger.apply` gives the
same stock whatever the arrival order and however often an event is delivered. The Redis
script (adapters/redis/apply.lua) implements exactly these rules; the contract tests hold
both to the same cases.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from stockline.domain.effects import (
    Count,
    Delta,
    Demand,
    Effect,
    HoldChange,
    LineChange,
    SupplyChange,
    day_of,
    effects_of,
)
from stockline.domain.events import Event
from stockline.domain.retention import Retention


class Outcome(StrEnum):
    """What became of one delivered event."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"  # its event_id was applied before
    REDELIVERED = "redelivered"  # its Kafka offset was applied before


@dataclass(frozen=True, slots=True)
class NodeStock:
    """The stored quantities of one (node, sku); availability is derived, never stored."""

    on_hand: int = 0
    reserved: int = 0
    inbound: int = 0
    held: int = 0

    def atp(self, buffer: int = 0) -> int:
        """`max(0, on_hand - reserved - held - buffer)`: what can be promised at the node;
        `buffer` is the policy's units never promised there (DESIGN.md section 3)."""
        return max(0, self.on_hand - self.reserved - self.held - buffer)

    def position(self) -> int:
        """`on_hand + inbound - reserved - held`: what replenishment plans against."""
        return self.on_hand + self.inbound - self.reserved - self.held


@dataclass(frozen=True, slots=True)
class SkuTotals:
    """A SKU's network ATP (the sum of its node ATPs) and, per channel, the sum over the
    nodes serving it; a channel appears once a node serving it has a ledger."""

    network_atp: int
    channels: Mapping[str, int]


def sku_totals(
    atp_by_node: Mapping[str, int], channels_of: Callable[[str], Iterable[str]]
) -> SkuTotals:
    """The totals of a SKU from each node's ATP and the channels each node serves."""
    channels: dict[str, int] = {}
    for node_id, units in atp_by_node.items():
        for channel in channels_of(node_id):
            channels[channel] = channels.get(channel, 0) + units
    return SkuTotals(sum(atp_by_node.values()), dict(sorted(channels.items())))


@dataclass(frozen=True, slots=True)
class CountMark:
    occurred_us: int
    event_id: str
    counted_qty: int

    def supersedes(self, other: CountMark | None) -> bool:
        """Latest by occurred_at; ties go to the larger event_id."""
        if other is None:
            return True
        return (self.occurred_us, self.event_id) > (other.occurred_us, other.event_id)


@dataclass(slots=True)
class OrderLine:
    placed: int = 0
    picked: int = 0
    cancelled: bool = False
    changed_us: int = 0
    """The time of the batch that last changed it (Retention.keeps_entry)."""

    @property
    def reserved(self) -> int:
        return 0 if self.cancelled else max(0, self.placed - self.picked)


@dataclass(slots=True)
class Hold:
    """A soft hold of a reservation at a node: `held(hold) = 0 if ended else placed`
    (DESIGN.md section 3); `expires_us` is the latest expiry its events named. A release or
    commit that arrives before the placement is remembered: the late hold holds nothing."""

    placed: int = 0
    expires_us: int = 0
    ended: bool = False
    changed_us: int = 0

    @property
    def held(self) -> int:
        return 0 if self.ended else self.placed

    @property
    def open(self) -> bool:
        """Holding units: its expiry must be watched."""
        return self.held > 0


@dataclass(slots=True)
class Supply:
    expected: int = 0
    received: int = 0
    changed_us: int = 0

    @property
    def inbound(self) -> int:
        return max(0, self.expected - self.received)


@dataclass(slots=True)
class NodeLedger:
    """One node's ledger of one SKU. `deltas` holds deltas newer than the latest count."""

    on_hand: int = 0
    count: CountMark | None = None
    deltas: dict[str, tuple[int, int]] = field(default_factory=dict)
    lines: dict[str, OrderLine] = field(default_factory=dict)
    supplies: dict[str, Supply] = field(default_factory=dict)
    holds: dict[str, Hold] = field(default_factory=dict)
    """Per reservation_id."""
    demand: dict[int, int] = field(default_factory=dict)
    """Units demanded per UTC day number."""
    trim_day: int = 0
    """The UTC day its deltas were last trimmed, or the day it was created."""

    @property
    def stock(self) -> NodeStock:
        reserved = sum(line.reserved for line in self.lines.values())
        inbound = sum(supply.inbound for supply in self.supplies.values())
        held = sum(hold.held for hold in self.holds.values())
        return NodeStock(self.on_hand, reserved, inbound, held)

    def add_delta(self, event_id: str, effect: Delta) -> bool:
        """Whether the delta moved on_hand (one at or before the latest count does not)."""
        if self.count is not None and effect.occurred_us <= self.count.occurred_us:
            return False  # already inside the count
        self.on_hand += effect.qty
        self.deltas[event_id] = (effect.occurred_us, effect.qty)
        return True

    def recount(self, event_id: str, effect: Count) -> None:
        mark = CountMark(effect.occurred_us, event_id, effect.counted_qty)
        if not mark.supersedes(self.count):
            return
        self.count = mark
        self.deltas = {k: v for k, v in self.deltas.items() if v[0] > mark.occurred_us}
        self.on_hand = mark.counted_qty + sum(qty for _, qty in self.deltas.values())

    def change_line(self, effect: LineChange, now_us: int = 0) -> None:
        line = self.lines.setdefault(effect.order_id, OrderLine())
        line.placed += effect.placed
        line.picked += effect.picked
        line.cancelled = line.cancelled or effect.cancelled
        line.changed_us = now_us

    def change_supply(self, effect: SupplyChange, now_us: int = 0) -> None:
        supply = self.supplies.setdefault(effect.supply_id, Supply())
        supply.expected += effect.expected
        supply.received += effect.received
        supply.changed_us = now_us

    def change_hold(self, effect: HoldChange, now_us: int = 0) -> None:
        hold = self.holds.setdefault(effect.reservation_id, Hold())
        hold.placed += effect.placed
        hold.expires_us = max(hold.expires_us, effect.expires_us)
        hold.ended = hold.ended or effect.ended
        hold.changed_us = now_us

    def trim_deltas(self, retention: Retention, now_us: int) -> None:
        """After a delta moved on_hand: once a UTC day, drop the deltas older than the
        window (Retention.trims_deltas, Retention.keeps_delta)."""
        if retention.trims_deltas(self.trim_day, now_us):
            self.deltas = {
                k: v for k, v in self.deltas.items() if retention.keeps_delta(v[0], now_us)
            }
            self.trim_day = day_of(now_us)

    def forget(self, retention: Retention, now_us: int) -> None:
        """Drop the order lines, supplies and holds that hold nothing and changed longer
        than the window ago (Retention.keeps_entry); stock stays as it is."""
        keeps = retention.keeps_entry
        self.lines = {
            k: x for k, x in self.lines.items() if keeps(x.reserved, x.changed_us, now_us)
        }
        self.supplies = {
            k: x for k, x in self.supplies.items() if keeps(x.inbound, x.changed_us, now_us)
        }
        self.holds = {k: x for k, x in self.holds.items() if keeps(x.held, x.changed_us, now_us)}


def hold_node(candidates: Sequence[str], atp: Mapping[str, int], qty: int) -> str | None:
    """Where a hold of `qty` goes (DESIGN.md section 6): the first candidate, in the caller's
    order, whose ATP covers it; None when none does (a node absent from `atp` has none)."""
    return next((node for node in candidates if atp.get(node, 0) >= qty), None)


def next_version(version: int, batch_us: int) -> int:
    """A SKU's version after a batch that changed it: the batch's time (µs since the epoch)
    or one more than before, whichever is higher. It rises with every changing batch, and a
    replay after the ledger lost writes publishes above every version the lost state did."""
    return max(version + 1, batch_us)


@dataclass(slots=True)
class SkuLedger:
    """The consistency boundary: every node's ledger of one SKU, with one version."""

    sku: str
    version: int = 0
    nodes: dict[str, NodeLedger] = field(default_factory=dict)
    seen: dict[str, int] = field(default_factory=dict)
    """The event_ids applied, each with the time of the batch that applied it."""
    latest_us: int = 0
    """The latest occurred_at of any event applied: the SKU's event clock (planning's
    today), the same on a replay as when the events were new."""

    def apply(self, event: Event, now_us: int = 0, retention: Retention | None = None) -> Outcome:
        """Apply one event once; a repeated event_id changes nothing. `now_us`, the time of
        the batch, is remembered with the event_id and every entry the event changes; with
        a `retention`, a node whose on_hand a delta moves trims its old deltas."""
        if event.event_id in self.seen:
            return Outcome.DUPLICATE
        self.seen[event.event_id] = now_us
        self.latest_us = max(self.latest_us, event.occurred_us)
        for effect in effects_of(event):
            self._apply_effect(event.event_id, effect, now_us, retention)
        return Outcome.APPLIED

    def forget(self, retention: Retention, now_us: int) -> None:
        """What a batch at `now_us` no longer remembers: event_ids applied before the window
        (Retention.remembers_event) and, at every node, the entries that hold nothing and
        expired (NodeLedger.forget)."""
        self.seen = {k: at for k, at in self.seen.items() if retention.remembers_event(at, now_us)}
        for node in self.nodes.values():
            node.forget(retention, now_us)

    def _apply_effect(
        self, event_id: str, effect: Effect, now_us: int, retention: Retention | None
    ) -> None:
        node = self.nodes.get(effect.node_id)
        if node is None:  # a node's first day trims none of its deltas
            node = self.nodes[effect.node_id] = NodeLedger(trim_day=day_of(now_us))
        match effect:
            case Delta():
                if node.add_delta(event_id, effect) and retention is not None:
                    node.trim_deltas(retention, now_us)
            case Count():
                node.recount(event_id, effect)
            case LineChange():
                node.change_line(effect, now_us)
            case SupplyChange():
                node.change_supply(effect, now_us)
            case HoldChange():
                node.change_hold(effect, now_us)
            case Demand():
                node.demand[effect.day] = node.demand.get(effect.day, 0) + effect.units

    def demand(self) -> dict[str, dict[int, int]]:
        """Per node, units demanded per day (nodes with no demand are left out)."""
        return {n: dict(node.demand) for n, node in sorted(self.nodes.items()) if node.demand}

    def stock(self) -> dict[str, NodeStock]:
        return {node_id: node.stock for node_id, node in sorted(self.nodes.items())}
