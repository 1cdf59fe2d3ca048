"""The ports the use cases need, named by role. Adapters implement them by technology."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from stockline.domain.events import HoldPlaced, InventoryEvent
from stockline.domain.ledger import NodeStock, Outcome, SkuTotals
from stockline.domain.signals import ReviewMark

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
    """Every node's stock of one SKU at one version: what planning and the read API see."""

    sku: str
    version: int
    nodes: Mapping[str, NodeStock]
    demand: Mapping[str, Mapping[int, int]] = field(default_factory=dict, compare=False)
    """Per node, units demanded per UTC day number (the demand estimate's input); not part
    of equality, which is about stock."""
    reviews: Mapping[str, ReviewMark] = field(default_factory=dict, compare=False)
    """Per node, what the signals of its latest review day covered and gave (absent:
    nothing yet)."""
    safety_stock: Mapping[str, int] = field(default_factory=dict, compare=False)
    """Per planned node, the safety stock planning last set (absent: the policy's own)."""
    latest_us: int = field(default=0, compare=False)
    """The latest occurred_at of any event applied to the SKU: its event clock."""


@dataclass(frozen=True, slots=True)
class PlanMarks:
    """What planning stores per SKU after its signals are out: the review marks that
    changed and each planned node's current safety stock (which the read API shows as a
    planning level)."""

    sku: str
    reviews: Mapping[str, ReviewMark]
    safety_stock: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class NodeState:
    """One (sku, node) after a batch: what its `inventory.atp.nodes` record carries."""

    node_id: str
    stock: NodeStock
    buffer: int
    atp: int
    new: bool = field(default=False, compare=False)
    """No event had touched the node for this SKU before (so the node index gains it)."""


@dataclass(frozen=True, slots=True)
class SkuChange:
    """What one batch changed of one SKU: the nodes whose values changed (or that a
    redelivered event touches, to publish again), sorted by node id; the SKU's totals when
    they changed (or on redelivery); and, when the caller asked for it (planning), the
    SKU's full snapshot. `version` is the SKU's version after the batch."""

    sku: str
    version: int
    nodes: tuple[NodeState, ...]
    totals: SkuTotals | None
    snapshot: SkuSnapshot | None = field(default=None, compare=False)


class NodeTerms(Protocol):
    """What the atomic step needs to know of a node beyond its events; cheap, per node."""

    def buffer(self, node_id: str, sku: str) -> int:
        """Units of the SKU never promised at the node (0 without a policy)."""
        ...

    def channels_of(self, node_id: str) -> frozenset[str]:
        """The sales channels the node serves (empty when the network does not say)."""
        ...


class NoTerms:
    """No network file: no buffer, no channels."""

    def buffer(self, node_id: str, sku: str) -> int:
        return 0

    def channels_of(self, node_id: str) -> frozenset[str]:
        return frozenset()


NO_TERMS: NodeTerms = NoTerms()


@dataclass(slots=True)
class ApplyResult:
    """What a store did with one batch: an outcome per delivery, in delivery order,
    and a change of every SKU to publish (changed, or seen again after a crash)."""

    outcomes: list[Outcome] = field(default_factory=list)
    changes: list[SkuChange] = field(default_factory=list)
    went_negative: int = 0  # node ledgers whose on_hand dropped below zero in this batch


def group_by_sku(deliveries: Sequence[Delivery]) -> list[tuple[str, list[tuple[int, Delivery]]]]:
    """Deliveries grouped per SKU, each group in arrival order, with their batch indexes."""
    groups: dict[str, list[tuple[int, Delivery]]] = {}
    for pair in enumerate(deliveries):
        group = groups.get(pair[1].event.sku)
        if group is None:
            groups[pair[1].event.sku] = [pair]
        else:
            group.append(pair)
    return sorted(groups.items())  # by SKU; each SKU once, so no list is ever compared


@dataclass(frozen=True, slots=True)
class HoldRequest:
    """One reservation line to decide: hold `qty` at the first of `candidates` (node ids in
    order of preference) whose ATP covers it. `event_id` is the id of the `hold_placed`
    event the decision becomes (deterministic, so a retried step is recognised)."""

    event_id: str
    reservation_id: str
    qty: int
    candidates: tuple[str, ...]
    expires_us: int
    occurred_us: int
    source: str

    def placed_at(self, sku: str, node_id: str) -> HoldPlaced:
        """The `hold_placed` event this line becomes when held at `node_id`."""
        return HoldPlaced(
            event_id=self.event_id,
            occurred_us=self.occurred_us,
            source=self.source,
            node_id=node_id,
            sku=sku,
            qty=self.qty,
            reservation_id=self.reservation_id,
            expires_us=self.expires_us,
        )


@dataclass(frozen=True, slots=True)
class HoldDecision:
    """What the atomic step decided for one line: the `hold_placed` event to publish (None
    when no candidate covered the line, or when `replayed` found the line decided before
    and refused), each candidate's ATP as the step saw it before holding, and `replayed`
    when the event id had been decided before (nothing changed this time)."""

    placed: HoldPlaced | None
    atp: Mapping[str, int]
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class DueHold:
    """An open hold whose expiry has passed: stockline must publish its release."""

    sku: str
    node_id: str
    reservation_id: str
    expires_us: int


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
        terms: NodeTerms = ...,
        on_change: Callable[[SkuChange], None] = ...,
        *,
        full: bool = False,
        republish: bool = False,
    ) -> ApplyResult:
        """Apply a batch, atomically per SKU and idempotently: an event_id applied within
        the retention window, or a Kafka offset at or below one applied for that SKU's
        shard from that partition, changes nothing. Each touched node's ATP is computed
        with `terms.buffer`, and the SKU's totals move with it on `terms.channels_of`.
        `on_change` sees each change of the result as soon as the store has it (possibly
        again for the same SKU if the store re-runs a call), so the caller's work can
        overlap the store's. With `full`, each change carries the SKU's whole snapshot. With
        `republish` (a replay after the store lost writes), a change also carries every node
        an applied event touched, changed or not, and the totals: what was published from
        the lost state must be replaced. A SKU's version after a change is the batch's time
        `now_us` or one more than before, whichever is higher, so versions published after
        a replay are above those published from the lost state."""
        ...

    async def record_progress(
        self,
        offsets: Mapping[TopicPartition, int],
        indexed: Sequence[tuple[str, str]] = (),
        marks: Sequence[PlanMarks] = (),
    ) -> None:
        """After a batch is applied and published: remember per partition the highest offset
        below which everything is applied (never lowered), list each (sku, node) of
        `indexed` in the node's index (so a node's stock can be listed), and store the
        planning marks."""
        ...

    async def watermarks(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        """The recorded watermark of each partition that has one."""
        ...

    async def snapshot(self, sku: str) -> SkuSnapshot | None:
        """The current stock of a SKU, or None if no event ever touched it."""
        ...

    async def totals(self, sku: str) -> SkuTotals | None:
        """The SKU's totals as the store keeps them (None before its first change)."""
        ...


class HoldStore(Protocol):
    """The reservation API's atomic steps on the ledger (DESIGN.md section 6). A decision is
    applied exactly as its event would be, ahead of Kafka and without publishing: the
    worker's apply of the same event from `inventory.reservations` is then a duplicate, and
    it publishes the node's record (a duplicate publishes every node it touches whose values
    differ from what was last published)."""

    async def hold(self, sku: str, request: HoldRequest, now_us: int) -> HoldDecision:
        """In one atomic step on the SKU: hold at the first candidate whose ATP
        (`on_hand - reserved - held - buffer`, the buffer its ATP was last computed with;
        0 at a node without a ledger) covers `request.qty`, or refuse."""
        ...

    async def pre_apply(self, events: Sequence[InventoryEvent], now_us: int) -> list[Outcome]:
        """Apply events the API decided (releases, extensions) ahead of Kafka, atomically
        per SKU and idempotently by event_id; nothing is published."""
        ...

    async def due_holds(self, now_us: int, limit: int = 1000) -> list[DueHold]:
        """Open holds whose expiry is at or before `now_us`, earliest first (at most `limit`)."""
        ...


class Publisher(Protocol):
    async def publish_atp(
        self, nodes: Sequence[tuple[str, str, bytes]], skus: Sequence[tuple[str, bytes]]
    ) -> None:
        """Publish (sku, node_id, record) to the node ATP topic (key `<sku>/<node_id>`) and
        (sku, record) to the SKU ATP topic; returns once the broker has them all."""
        ...

    async def dead_letter(self, records: Sequence[DeadLetter]) -> None:
        """Publish original records with reason headers to the DLQ; returns once stored."""
        ...

    async def publish_signals(
        self, reorder: Sequence[tuple[str, bytes]], rebalance: Sequence[tuple[str, bytes]]
    ) -> None:
        """Publish (sku, message) pairs to the reorder and rebalance signal topics."""
        ...
