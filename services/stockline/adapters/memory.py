"""In-memory ports: the same behaviour as the Redis and Kafka adapters, for tests and demos."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from stockline.domain.ledger import Outcome, SkuLedger
from stockline.service_layer.ports import (
    ApplyResult,
    DeadLetter,
    Delivery,
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

    async def apply(self, deliveries: Sequence[Delivery], now_us: int) -> ApplyResult:
        result = ApplyResult(outcomes=[Outcome.APPLIED] * len(deliveries))
        for sku, group in group_by_sku(deliveries):
            self._apply_sku(sku, group, result)
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
            result.snapshots.append(SkuSnapshot(sku, ledger.version, after, ledger.demand()))

    async def record_progress(
        self, offsets: Mapping[TopicPartition, int], snapshots: Sequence[SkuSnapshot] = ()
    ) -> None:
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
        return SkuSnapshot(sku, ledger.version, ledger.stock(), ledger.demand())


@dataclass
class ListPublisher:
    """A Publisher that keeps what it was given, in order."""

    atp: list[tuple[str, bytes]] = field(default_factory=list)
    dlq: list[DeadLetter] = field(default_factory=list)

    async def publish_atp(self, messages: Sequence[tuple[str, bytes]]) -> None:
        self.atp.extend(messages)

    async def dead_letter(self, records: Sequence[DeadLetter]) -> None:
        self.dlq.extend(records)
