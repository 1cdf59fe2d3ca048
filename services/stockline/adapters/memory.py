"""In-memory ports: the same behaviour as the Redis and Kafka adapters, for tests and demos."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from stockline.contracts.outbound import node_record_key
from stockline.domain.batch import Published, moved, redelivered, version_after, went_negative
from stockline.domain.effects import effects_of
from stockline.domain.events import InventoryEvent
from stockline.domain.ledger import (
    NodeLedger,
    NodeStock,
    Outcome,
    SkuLedger,
    SkuTotals,
    hold_node,
    sku_totals,
)
from stockline.domain.retention import WEEK_US, Retention
from stockline.domain.shards import shard_of
from stockline.domain.signals import ReviewMark
from stockline.service_layer.ports import (
    NO_TERMS,
    ApplyResult,
    DeadLetter,
    Delivery,
    DueHold,
    HoldDecision,
    HoldRequest,
    NodeState,
    NodeTerms,
    PlanMarks,
    SkuChange,
    SkuSnapshot,
    TopicPartition,
    group_by_sku,
)

A_WEEK = Retention(WEEK_US)


@dataclass(slots=True)
class _Batch:
    """What one `apply` call fixes for all its SKUs."""

    now_us: int
    terms: NodeTerms
    full: bool
    republish: bool
    offsets_before: dict[tuple[int, TopicPartition], int]
    """Each shard's offsets as they were before the batch."""
    seen: set[tuple[TopicPartition, int]] = field(default_factory=set)
    """Positions applied in this batch (a position twice in one batch is redelivered)."""


@dataclass
class MemoryLedgerStore:
    """A LedgerStore over domain aggregates; one SKU's batch is applied as a unit. Like the
    Redis store it remembers each node's last ATP and buffer, and keeps the SKU's totals as
    the sum of those (a node's terms are read when an event touches it). The batch rules
    are domain/batch.py's, what it forgets domain/retention.py's, as in apply.lua."""

    ledgers: dict[str, SkuLedger] = field(default_factory=dict)
    applied_offsets: dict[tuple[int, TopicPartition], int] = field(default_factory=dict)
    """Per (ledger shard, partition), the last offset applied."""
    shards: int = 256
    applied_watermarks: dict[TopicPartition, int] = field(default_factory=dict)
    node_skus: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    reviews: dict[str, dict[str, ReviewMark]] = field(default_factory=dict)
    safety_stock: dict[str, dict[str, int]] = field(default_factory=dict)
    published: dict[str, dict[str, Published]] = field(default_factory=dict)
    """Per SKU and node: the ATP last computed, its buffer and the node's channels."""
    kept_totals: dict[str, SkuTotals] = field(default_factory=dict)
    retention: Retention = A_WEEK
    """What it forgets when: the workers' default window unless given another."""

    async def apply(
        self,
        deliveries: Sequence[Delivery],
        now_us: int,
        terms: NodeTerms = NO_TERMS,
        on_change: Callable[[SkuChange], None] = lambda _: None,
        *,
        full: bool = False,
        republish: bool = False,
    ) -> ApplyResult:
        result = ApplyResult(outcomes=[Outcome.APPLIED] * len(deliveries))
        batch = _Batch(now_us, terms, full, republish, dict(self.applied_offsets))
        for sku, group in group_by_sku(deliveries):
            change = self._apply_sku(sku, group, batch, result)
            if change is not None:
                result.changes.append(change)
                on_change(change)
        return result

    def _apply_sku(
        self, sku: str, group: list[tuple[int, Delivery]], batch: _Batch, result: ApplyResult
    ) -> SkuChange | None:
        ledger = self._ledger(sku, batch.now_us)
        shard = shard_of(sku, self.shards)
        before = ledger.stock()
        published_before = set(self.published.get(sku, ()))
        touched: set[str] = set()
        again: set[str] = set()
        for index, delivery in group:
            tp = (delivery.topic, delivery.partition)
            nodes = {effect.node_id for effect in effects_of(delivery.event)}
            at = (tp, delivery.offset)
            applied_before = batch.offsets_before.get((shard, tp), -1)
            if redelivered(delivery.offset, applied_before, at in batch.seen):
                result.outcomes[index] = Outcome.REDELIVERED
                again |= nodes
                continue
            batch.seen.add(at)
            last = self.applied_offsets.get((shard, tp), -1)
            self.applied_offsets[shard, tp] = max(last, delivery.offset)
            result.outcomes[index] = ledger.apply(delivery.event, batch.now_us, self.retention)
            touched |= nodes  # a duplicate publishes a node a pre-applied decision moved
        after = ledger.stock()
        before = {n: stock for n, stock in before.items() if n in published_before}
        changed = self._moved(sku, before, after, touched, batch.terms)
        result.went_negative += sum(
            went_negative(before[n].on_hand if n in before else 0, after[n].on_hand)
            for n in changed
        )
        ledger.version = version_after(ledger.version, batch.now_us, bool(changed))
        again &= set(before)  # a redelivered event republishes what it had written
        if batch.republish:
            again |= touched  # a node new to the SKU is among `changed` anyway
        if not changed and not again:
            return None
        totals = self._totals(sku, bool(again))
        published = self.published[sku]
        states = tuple(
            NodeState(n, after[n], published[n].buffer, published[n].atp, n not in before)
            for n in sorted(set(changed) | again)
        )
        snapshot = self._snapshot(ledger) if batch.full else None
        return SkuChange(sku, ledger.version, states, totals, snapshot)

    def _moved(
        self,
        sku: str,
        before: Mapping[str, NodeStock],
        after: Mapping[str, NodeStock],
        touched: set[str],
        terms: NodeTerms,
    ) -> list[str]:
        """The touched nodes that moved (batch.moved); remembers what they publish."""
        published = self.published.setdefault(sku, {})
        changed = []
        for node in sorted(touched):
            buffer = terms.buffer(node, sku)
            now = Published(after[node].atp(buffer), buffer, terms.channels_of(node))
            if moved(before.get(node), after[node], published.get(node), now):
                changed.append(node)
                published[node] = now
        return changed

    def _ledger(self, sku: str, now_us: int) -> SkuLedger:
        """The SKU's ledger as a call at `now_us` sees it: without what it forgot."""
        ledger = self.ledgers.setdefault(sku, SkuLedger(sku))
        ledger.forget(self.retention, now_us)
        return ledger

    def _totals(self, sku: str, redelivered: bool) -> SkuTotals | None:
        published = self.published[sku]
        atp = {node: values.atp for node, values in published.items()}
        totals = sku_totals(atp, lambda node: published[node].channels)
        kept = self.kept_totals.get(sku)
        if kept is not None:  # a channel, once some node served it, stays (at 0)
            channels = dict.fromkeys(kept.channels, 0) | dict(totals.channels)
            totals = SkuTotals(totals.network_atp, dict(sorted(channels.items())))
        if totals == kept and not redelivered:
            return None
        self.kept_totals[sku] = totals
        return totals

    async def record_progress(
        self,
        offsets: Mapping[TopicPartition, int],
        indexed: Sequence[tuple[str, str]] = (),
        marks: Sequence[PlanMarks] = (),
    ) -> None:
        for mark in marks:
            self.reviews.setdefault(mark.sku, {}).update(mark.reviews)
            self.safety_stock.setdefault(mark.sku, {}).update(mark.safety_stock)
        for tp, offset in offsets.items():
            self.applied_watermarks[tp] = max(offset, self.applied_watermarks.get(tp, -1))
        for sku, node_id in indexed:
            self.node_skus[node_id].add(sku)

    async def watermarks(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        return {
            tp: self.applied_watermarks[tp] for tp in partitions if tp in self.applied_watermarks
        }

    async def snapshot(self, sku: str) -> SkuSnapshot | None:
        ledger = self.ledgers.get(sku)
        if ledger is None or not self.published.get(sku):
            return None
        return self._snapshot(ledger)

    async def hold(self, sku: str, request: HoldRequest, now_us: int) -> HoldDecision:
        ledger = self._ledger(sku, now_us) if sku in self.ledgers else None
        candidates = request.candidates
        if ledger is not None and request.event_id in ledger.seen:
            nodes = ledger.nodes
            holding = (n for n in candidates if n in nodes and _holds(nodes[n], request))
            node = next(holding, None)
            placed = request.placed_at(sku, node) if node else None
            return HoldDecision(placed, {}, replayed=True)
        atp = self._atp(sku, candidates)
        node = hold_node(candidates, atp, request.qty)
        placed = request.placed_at(sku, node) if node else None
        if placed is not None:
            self._ledger(sku, now_us).apply(placed, now_us, self.retention)
        return HoldDecision(placed, atp)

    def _atp(self, sku: str, nodes: Sequence[str]) -> dict[str, int]:
        """Each node's ATP with the buffer its ATP was last published with (0 at a node
        never published), as the hold decision sees it."""
        published = self.published.get(sku, {})
        stock = self.ledgers[sku].stock() if sku in self.ledgers else {}
        return {n: stock[n].atp(published[n].buffer) if n in published else 0 for n in nodes}

    async def pre_apply(self, events: Sequence[InventoryEvent], now_us: int) -> list[Outcome]:
        return [self._ledger(e.sku, now_us).apply(e, now_us, self.retention) for e in events]

    async def due_holds(self, now_us: int, limit: int = 1000) -> list[DueHold]:
        due = [
            DueHold(sku, node_id, rid, hold.expires_us)
            for sku, ledger in self.ledgers.items()
            for node_id, node in ledger.nodes.items()
            for rid, hold in node.holds.items()
            if hold.open and hold.expires_us <= now_us
        ]
        due.sort(key=lambda d: (d.expires_us, d.sku, d.node_id, d.reservation_id))
        return due[:limit]

    async def totals(self, sku: str) -> SkuTotals | None:
        return self.kept_totals.get(sku)

    def _snapshot(self, ledger: SkuLedger) -> SkuSnapshot:
        reviews = dict(self.reviews.get(ledger.sku, {}))
        safety = dict(self.safety_stock.get(ledger.sku, {}))
        published = self.published.get(ledger.sku, {})  # a node only pre-applied has none yet
        stock = {n: units for n, units in ledger.stock().items() if n in published}
        demand = ledger.demand()
        return SkuSnapshot(
            ledger.sku, ledger.version, stock, demand, reviews, safety, ledger.latest_us
        )


@dataclass
class ListPublisher:
    """A Publisher that keeps what it was given, in order."""

    atp_nodes: list[tuple[str, bytes]] = field(default_factory=list)
    """(`<sku>/<node_id>`, record) as published."""
    atp: list[tuple[str, bytes]] = field(default_factory=list)
    dlq: list[DeadLetter] = field(default_factory=list)
    reorder: list[tuple[str, bytes]] = field(default_factory=list)
    rebalance: list[tuple[str, bytes]] = field(default_factory=list)

    async def publish_atp(
        self, nodes: Sequence[tuple[str, str, bytes]], skus: Sequence[tuple[str, bytes]]
    ) -> None:
        self.atp_nodes.extend((node_record_key(sku, node), value) for sku, node, value in nodes)
        self.atp.extend(skus)

    async def dead_letter(self, records: Sequence[DeadLetter]) -> None:
        self.dlq.extend(records)

    async def publish_signals(
        self, reorder: Sequence[tuple[str, bytes]], rebalance: Sequence[tuple[str, bytes]]
    ) -> None:
        self.reorder.extend(reorder)
        self.rebalance.extend(rebalance)


@dataclass
class MemoryLedgerReader:
    """A LedgerReader over a MemoryLedgerStore, for tests of the read side."""

    store: MemoryLedgerStore
    reachable: bool = True

    async def snapshots(self, skus: Sequence[str]) -> list[SkuSnapshot | None]:
        return [await self.store.snapshot(sku) for sku in skus]

    async def node_skus(self, node_id: str, *, after: str | None, limit: int) -> list[str]:
        held = sorted(self.store.node_skus.get(node_id, ()))
        return [sku for sku in held if after is None or sku > after][:limit]

    async def ping(self) -> bool:
        return self.reachable


@dataclass(frozen=True)
class StaticNetworkView:
    """A NetworkView (and NodeTerms) from plain mappings; the default (empty) means safety
    stock and buffer 0 and no channels, which is the network until a network file is
    configured."""

    safety: Mapping[tuple[str, str], int] = field(default_factory=dict)
    """Safety stock by (node_id, sku)."""
    channels: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Channels served by node_id."""
    buffers: Mapping[tuple[str, str], int] = field(default_factory=dict)
    """Buffer by (node_id, sku)."""

    def safety_stock(self, node_id: str, sku: str) -> int:
        return self.safety.get((node_id, sku), 0)

    def buffer(self, node_id: str, sku: str) -> int:
        return self.buffers.get((node_id, sku), 0)

    def channels_of(self, node_id: str) -> frozenset[str]:
        return self.channels.get(node_id, frozenset())


def _holds(node: NodeLedger, request: HoldRequest) -> bool:
    hold = node.holds.get(request.reservation_id)
    return hold is not None and hold.open
