"""The life of a batch of events, top to bottom:

decode -> dead-letter the rejects -> apply to the ledger (one atomic step per SKU, several
SKUs of a ledger shard per script call) -> plan (levels, signals; with a network file) ->
publish one record per changed (sku, node) and one per SKU whose totals changed, and the
signals -> record progress (applied watermarks, node index, review marks).
The caller acknowledges the Kafka offsets only after `LedgerPipeline.process` returns,
so a crash anywhere in between redelivers the batch, and redelivery changes nothing.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from stockline.contracts.codec import Rejection, decode
from stockline.contracts.outbound import as_of, dlq_headers
from stockline.contracts.signals import record
from stockline.domain.events import EVENT_TYPE_OF, InventoryEvent
from stockline.domain.ledger import Outcome
from stockline.domain.signals import ReorderSignal
from stockline.service_layer.planning import Planner, SkuPlan
from stockline.service_layer.ports import (
    ApplyResult,
    DeadLetter,
    Delivery,
    LedgerStore,
    Publisher,
    RawRecord,
    SkuChange,
    TopicPartition,
)
from stockline.service_layer.records import node_records, sku_record

REJECTED = "rejected"
_APPLIED: Final = Outcome.APPLIED


def now_us() -> int:
    return time.time_ns() // 1000


@dataclass(slots=True)
class BatchReport:
    """What one batch did, for metrics and logs."""

    records: int = 0
    by_type_outcome: Counter[tuple[str, str]] = field(default_factory=Counter)
    dlq_reasons: Counter[str] = field(default_factory=Counter)
    event_ages_s: list[float] = field(default_factory=list)
    atp_freshness_s: list[float] = field(default_factory=list)
    """Per applied event that changed ATP: occurred_at to its ATP snapshot being published."""
    apply_seconds: float = 0.0
    atp_messages: int = 0
    went_negative: int = 0
    signals: Counter[tuple[str, str]] = field(default_factory=Counter)
    """Signals published, by (kind, reason)."""


@dataclass
class LedgerPipeline:
    """The stream worker's use case over its ports; no Kafka or Redis client in sight."""

    store: LedgerStore
    publisher: Publisher
    retention_us: int
    clock: Callable[[], int] = now_us
    planner: Planner = field(default_factory=Planner)
    validate_at_record_time: bool = False
    """Judge `occurred_at` against each record's Kafka timestamp instead of the clock: a
    rebuild replays old records and must accept and reject exactly what was accepted and
    rejected when they were new (a count stale today was fresh then)."""

    def __post_init__(self) -> None:
        self._view = self.planner.view
        self._dead_lettered: set[tuple[str, int, int]] = set()
        """Positions of the unfinished batch already written to the DLQ: a batch retried
        after a Redis or Kafka error dead-letters each of its rejects once."""

    async def process(self, records: Sequence[RawRecord], republish: bool = False) -> BatchReport:
        """Process a batch once its records are read; idempotent, so safe to repeat. With
        `republish` (the batch replays what the store lost), every node an applied event
        touches is published again, changed or not."""
        now = self.clock()
        report = BatchReport(records=len(records))
        deliveries, rejects = self._decode(records, now, report)
        await self._dead_letter(rejects)
        stamp = as_of(now)
        nodes: list[tuple[str, str, bytes]] = []
        skus: list[tuple[str, bytes]] = []
        plans: dict[str, SkuPlan] = {}

        def stage(change: SkuChange) -> None:
            """Render (and plan) each SKU while the store is still applying the rest."""
            nodes.extend(node_records(change, stamp))
            if change.totals is not None:
                skus.append((change.sku, sku_record(change, stamp)))
            if change.snapshot is not None:
                plans[change.sku] = self.planner.plan(change.snapshot, stamp)

        planning = self.planner.enabled
        started = time.perf_counter()
        result = await self.store.apply(
            deliveries, now, self._view, on_change=stage, full=planning, republish=republish
        )
        report.apply_seconds = time.perf_counter() - started
        if nodes or skus:
            await self.publisher.publish_atp(nodes, skus)
        await self._publish_signals(list(plans.values()), report)
        # after publishing: a crash before this replays the batch, deciding the same signals
        marks = [p.plan_marks() for p in plans.values() if p.levels]
        indexed = [(c.sku, n.node_id) for c in result.changes for n in c.nodes if n.new]
        await self.store.record_progress(_highest_offsets(records), indexed, marks)
        applied = self._count(deliveries, result.outcomes, now, report)
        self._freshness(applied, result, self.clock(), report)
        report.atp_messages = len(nodes) + len(skus)
        report.went_negative = result.went_negative
        self._dead_lettered.clear()
        return report

    async def _dead_letter(self, rejects: list[DeadLetter]) -> None:
        fresh = [
            (r, headers)
            for r, headers in rejects
            if (r.topic, r.partition, r.offset) not in self._dead_lettered
        ]
        if fresh:
            await self.publisher.dead_letter(fresh)
            self._dead_lettered.update((r.topic, r.partition, r.offset) for r, _ in fresh)

    def _decode(
        self, records: Sequence[RawRecord], now: int, report: BatchReport
    ) -> tuple[list[Delivery], list[DeadLetter]]:
        deliveries: list[Delivery] = []
        rejects: list[DeadLetter] = []
        at_record_time, retention_us = self.validate_at_record_time, self.retention_us
        for r in records:
            at = r.timestamp_ms * 1000 if at_record_time and r.timestamp_ms else now
            decoded = decode(r.value or b"", r.key, now_us=at, retention_us=retention_us)
            if isinstance(decoded, Rejection):
                rejects.append((r, dlq_headers(decoded, r.topic, r.partition, r.offset)))
                report.dlq_reasons[decoded.reason.value] += 1
                report.by_type_outcome["unknown", REJECTED] += 1
            else:
                deliveries.append(Delivery(decoded, r.topic, r.partition, r.offset))
        return deliveries, rejects

    async def _publish_signals(self, plans: list[SkuPlan], report: BatchReport) -> None:
        report.signals.update(await publish_signals(self.publisher, plans))

    @staticmethod
    def _count(
        deliveries: list[Delivery], outcomes: list[Outcome], now: int, report: BatchReport
    ) -> list[InventoryEvent]:
        """Count the batch's events by (event_type, outcome) and record the age of each
        applied one; returns the applied events, in delivery order."""
        events = [d.event for d in deliveries]
        # counted by class first: one name lookup per (class, outcome), not per event
        for (kind, outcome), n in Counter(zip(map(type, events), outcomes, strict=True)).items():
            report.by_type_outcome[EVENT_TYPE_OF[kind], outcome.value] += n
        applied = [e for e, outcome in zip(events, outcomes, strict=True) if outcome is _APPLIED]
        report.event_ages_s = [(now - e.occurred_us) / 1e6 for e in applied]
        return applied

    @staticmethod
    def _freshness(
        applied: list[InventoryEvent], result: ApplyResult, published: int, report: BatchReport
    ) -> None:
        changed = {c.sku for c in result.changes}
        report.atp_freshness_s = [
            (published - e.occurred_us) / 1e6 for e in applied if e.sku in changed
        ]


async def publish_signals(
    publisher: Publisher, plans: Sequence[SkuPlan]
) -> Counter[tuple[str, str]]:
    """Publish the plans' signals to their topics; returns how many by (kind, reason)."""
    reorder: list[tuple[str, bytes]] = []
    rebalance: list[tuple[str, bytes]] = []
    counts: Counter[tuple[str, str]] = Counter()
    for plan in plans:
        for signal in plan.signals:
            message = (plan.sku, record(signal).to_bytes())
            kind = "reorder" if isinstance(signal, ReorderSignal) else "rebalance"
            (reorder if kind == "reorder" else rebalance).append(message)
            counts[kind, signal.reason] += 1
    if reorder or rebalance:
        await publisher.publish_signals(reorder, rebalance)
    return counts


def _highest_offsets(records: Sequence[RawRecord]) -> dict[TopicPartition, int]:
    highest: dict[TopicPartition, int] = {}
    for r in records:
        tp = (r.topic, r.partition)
        if r.offset > highest.get(tp, -1):
            highest[tp] = r.offset
    return highest
