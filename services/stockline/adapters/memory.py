"""In-memory ports: the same behaviour as the Redis and Kafka adapters, for tests and demos."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from stockline.domain.ledger import Outcome, SkuLedger
from stockline.service_layer.ports import (
    ApplyResult,
    DeadLetter,
    Delivery,
    PlanMarks,
    SkuSnapshot,
    TopicPartition,
    group_by_sku,
)


@dataclass
class MemoryLedgerStore:
    """A LedgerStore over domain aggregates; one SKU's batch is applied as a unit."""

    ledgers: dict[str, SkuLedger] = field(default_factory=dict)
    applied_offsets: dict[str, dict[TopicPartition, int]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    applied_watermarks: dict[TopicPartition, int] = field(default_factory=dict)
    node_skus: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    armed: dict[str, dict[str, bool]] = field(default_factory=dict)
    safety_stock: dict[str, dict[str, int]] = field(default_factory=dict)

    async def apply(
        self,
        deliveries: Sequence[Delivery],
        now_us: int,
        on_snapshot: Callable[[SkuSnapshot], None] = lambda _: None,
    ) -> ApplyResult:
        result = ApplyResult(outcomes=[Outcome.APPLIED] * len(deliveries))
        for sku, group in group_by_sku(deliveries):
            published = len(result.snapshots)
            self._apply_sku(sku, group, result)
            for snapshot in result.snapshots[published:]:
                on_snapshot(snapshot)
        return result

    def _apply_sku(self, sku: str, group: list[tuple[int, Delivery]], result: ApplyResult) -> None:
        ledger = self.ledgers.setdefault(sku, SkuLedger(sku))
        offsets = self.applied_offsets[sku]
        before = ledger.stock()
        redelivered = False
        for index, delivery in group:
            tp = (delivery.topic, delivery.partition)
            if delivery.offset <= offsets.get(tp, -1):
                result.outcomes[index] = Outcome.REDELIVERED
                redelivered = True
                continue
            offsets[tp] = delivery.offset
            result.outcomes[index] = ledger.apply(delivery.event)
        after = ledger.stock()
        result.went_negative += sum(
            1
            for node, stock in after.items()
            if stock.on_hand < 0 <= (before[node].on_hand if node in before else 0)
        )
        if after != before:
            ledger.version += 1
        if after != before or redelivered:
            result.snapshots.append(self._snapshot(ledger))

    async def record_progress(
        self,
        offsets: Mapping[TopicPartition, int],
        snapshots: Sequence[SkuSnapshot] = (),
        marks: Sequence[PlanMarks] = (),
    ) -> None:
        for mark in marks:
            self.armed.setdefault(mark.sku, {}).update(mark.armed)
            self.safety_stock.setdefault(mark.sku, {}).update(mark.safety_stock)
        for tp, offset in offsets.items():
            self.applied_watermarks[tp] = max(offset, self.applied_watermarks.get(tp, -1))
        for snapshot in snapshots:
            for node_id in snapshot.nodes:
                self.node_skus[node_id].add(snapshot.sku)

    async def watermarks(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        return {
            tp: self.applied_watermarks[tp] for tp in partitions if tp in self.applied_watermarks
        }

    async def snapshot(self, sku: str) -> SkuSnapshot | None:
        ledger = self.ledgers.get(sku)
        if ledger is None:
            return None
        return self._snapshot(ledger)

    def _snapshot(self, ledger: SkuLedger) -> SkuSnapshot:
        armed = dict(self.armed.get(ledger.sku, {}))
        safety = dict(self.safety_stock.get(ledger.sku, {}))
        stock, demand = ledger.stock(), ledger.demand()
        return SkuSnapshot(ledger.sku, ledger.version, stock, demand, armed, safety)


@dataclass
class ListPublisher:
    """A Publisher that keeps what it was given, in order."""

    atp: list[tuple[str, bytes]] = field(default_factory=list)
    dlq: list[DeadLetter] = field(default_factory=list)
    reorder: list[tuple[str, bytes]] = field(default_factory=list)
    rebalance: list[tuple[str, bytes]] = field(default_factory=list)

    async def publish_atp(self, messages: Sequence[tuple[str, bytes]]) -> None:
        self.atp.extend(messages)

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
    """A NetworkView from plain mappings; the default (empty) means safety stock 0 and
    no channels, which is the network until a network file is configured."""

    safety: Mapping[tuple[str, str], int] = field(default_factory=dict)
    """Safety stock by (node_id, sku)."""
    channels: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Channels served by node_id."""

    def safety_stock(self, node_id: str, sku: str) -> int:
        return self.safety.get((node_id, sku), 0)

    def channels_of(self, node_id: str) -> frozenset[str]:
        return self.channels.get(node_id, frozenset())
