"""The ports the use cases need, named by role. Adapters implement them by technology."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import Protocol

from stockline.domain.events import InventoryEvent
from stockline.domain.ledger import NodeStock, Outcome

TopicPartition = tuple[str, int]


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One Kafka message as it arrived, before decoding."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int | None = None
    """The broker's timestamp of the record (when it was produced), if known."""


Headers = list[tuple[str, bytes]]
DeadLetter = tuple[RawRecord, Headers]
"""A rejected record and the headers that say why."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """A decoded event and the Kafka position it was read from."""

    event: InventoryEvent
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class SkuSnapshot:
    """Every node's stock of one SKU at one version: what `inventory.atp` publishes."""

    sku: str
    version: int
    nodes: Mapping[str, NodeStock]
    demand: Mapping[str, Mapping[int, int]] = field(default_factory=dict, compare=False)
    """Per node, units demanded per UTC day number (the demand estimate's input); not part
    of equality, which is about stock."""
    armed: Mapping[str, bool] = field(default_factory=dict, compare=False)
    """Per node, whether a reorder crossing may fire (absent: armed)."""
    safety_stock: Mapping[str, int] = field(default_factory=dict, compare=False)
    """Per planned node, the safety stock planning last set (absent: the policy's own)."""


@dataclass(frozen=True, slots=True)
class PlanMarks:
    """What planning stores per SKU after its signals are out: each planned node's armed
    state and current safety stock (which the read API shows)."""

    sku: str
    armed: Mapping[str, bool]
    safety_stock: Mapping[str, int]


@dataclass(slots=True)
class ApplyResult:
    """What a store did with one batch: an outcome per delivery, in delivery order,
    and a snapshot of every SKU to publish (changed, or seen again after a crash)."""

    outcomes: list[Outcome] = field(default_factory=list)
    snapshots: list[SkuSnapshot] = field(default_factory=list)
    went_negative: int = 0  # node ledgers whose on_hand dropped below zero in this batch


def group_by_sku(deliveries: Sequence[Delivery]) -> list[tuple[str, list[tuple[int, Delivery]]]]:
    """Deliveries grouped per SKU, each group in arrival order, with their batch indexes."""
    indexed = sorted(enumerate(deliveries), key=lambda pair: pair[1].event.sku)
    return [(sku, list(group)) for sku, group in groupby(indexed, key=lambda p: p[1].event.sku)]


class LedgerRolledBack(Exception):
    """The store lost writes this process made (say Redis restarted without the last second
    of its AOF). Nothing of the current batch was applied; every partition in `lost` must be
    replayed from `lost[tp] + 1`, the first offset the store no longer has."""

    def __init__(self, lost: dict[TopicPartition, int]) -> None:
        super().__init__(f"the ledger store lost writes; replay {len(lost)} partitions")
        self.lost = lost


class LedgerStore(Protocol):
    async def apply(
        self,
        deliveries: Sequence[Delivery],
        now_us: int,
        on_snapshot: Callable[[SkuSnapshot], None] = ...,
    ) -> ApplyResult:
        """Apply a batch, atomically per SKU and idempotently: an event_id applied within
        the retention window, or a Kafka offset at or below one applied for that SKU from
        that partition, changes nothing. `on_snapshot` sees each snapshot of the result as
        soon as the store has it (possibly again for the same SKU if the store re-runs a
        call), so the caller's work can overlap the store's."""
        ...

    async def record_progress(
        self,
        offsets: Mapping[TopicPartition, int],
        snapshots: Sequence[SkuSnapshot] = (),
        marks: Sequence[PlanMarks] = (),
    ) -> None:
        """After a batch is applied and published: remember per partition the highest offset
        below which everything is applied (never lowered), index each snapshot's SKU under
        its nodes (so a node's stock can be listed), and store the planning marks."""
        ...

    async def watermarks(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        """The recorded watermark of each partition that has one."""
        ...

    async def snapshot(self, sku: str) -> SkuSnapshot | None:
        """The current stock of a SKU, or None if no event ever touched it."""
        ...


class Publisher(Protocol):
    async def publish_atp(self, messages: Sequence[tuple[str, bytes]]) -> None:
        """Publish (sku, message) pairs to the ATP topic; returns once the broker has them."""
        ...

    async def dead_letter(self, records: Sequence[DeadLetter]) -> None:
        """Publish original records with reason headers to the DLQ; returns once stored."""
        ...

    async def publish_signals(
        self, reorder: Sequence[tuple[str, bytes]], rebalance: Sequence[tuple[str, bytes]]
    ) -> None:
        """Publish (sku, message) pairs to the reorder and rebalance signal topics."""
        ...
