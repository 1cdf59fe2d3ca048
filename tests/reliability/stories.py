"""Event streams built to break an order-sensitive ledger, and poison messages."""

from __future__ import annotations

import dataclasses
import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

from stockline.contracts.codec import DlqReason
from stockline.domain.events import (
    Adjustment,
    AdjustmentReason,
    CycleCount,
    Event,
    InboundExpected,
    OrderCancelled,
    OrderPlaced,
    Pick,
    Receipt,
    TransferReceived,
    TransferShipped,
)
from tests.integration.harness import TOPIC_BY_TYPE

R = DlqReason
NODES = ("DC-1", "MFC-1", "STORE-1", "STORE-2")
SECOND = 1_000_000
DAY = 86_400 * SECOND


class _Story:
    """One SKU's adversarial events, sorted into the phase each is published in."""

    def __init__(self, rng: random.Random, run: str, k: int, base_us: int) -> None:
        self.rng, self.sku, self.k = rng, f"SKU-{run}-{k}", k
        self.node = NODES[k % len(NODES)]
        self.other = NODES[(k + 1) % len(NODES)]
        self.t = base_us + rng.randrange(3600) * SECOND  # the latest cycle count's time
        self.phases: list[list[Event]] = [[], [], []]
        self._n = 0

    def common(self, at: int, suffix: str = "") -> dict[str, object]:
        self._n += 1
        event_id = f"{self.sku}-{self._n:03d}{suffix}"
        return {"event_id": event_id, "occurred_us": at, "source": "rel", "node_id": self.node,
                "sku": self.sku}  # fmt: skip

    def qty(self) -> int:
        return self.rng.randint(1, 40)

    def counts(self) -> None:
        """Two counts at the same instant (the larger event_id wins) first, then a late
        older count that must change nothing."""
        t = self.t
        self.phases[1] += [
            CycleCount(**self.common(t, "-a"), counted_qty=self.rng.randint(0, 500)),  # type: ignore[arg-type]
            CycleCount(**self.common(t, "-b"), counted_qty=self.rng.randint(0, 500)),  # type: ignore[arg-type]
        ]
        self.phases[2].append(CycleCount(**self.common(t - 60 * SECOND), counted_qty=999))  # type: ignore[arg-type]

    def deltas_around_the_count(self) -> None:
        """Deltas just before, exactly at and after the count; some arrive before it."""
        for offset in (-30 * SECOND, -1, 0, 1, 30 * SECOND):
            at = self.t + offset
            made = [
                Receipt(**self.common(at), qty=self.qty()),  # type: ignore[arg-type]
                Adjustment(**self.common(at), delta=-self.qty(), reason=AdjustmentReason.SHRINK),  # type: ignore[arg-type]
                Pick(**self.common(at), qty=self.qty()),  # type: ignore[arg-type]
            ]
            for event in made:
                self.phases[self.rng.choice((0, 2))].append(event)

    def orders_after_their_picks_and_cancels(self) -> None:
        at = self.t + self.rng.randrange(-600, 600) * SECOND
        for line in range(3):
            order = f"O-{self.sku}-{line}"
            placed = self.qty()
            self.phases[0].append(Pick(**self.common(at + 5), qty=placed // 2 + 1, order_id=order))  # type: ignore[arg-type]
            if line == 2:
                self.phases[0].append(OrderCancelled(**self.common(at + 9), order_id=order))  # type: ignore[arg-type]
            self.phases[2].append(OrderPlaced(**self.common(at), qty=placed, order_id=order))  # type: ignore[arg-type]

    def supplies_received_before_expected(self) -> None:
        at = self.t + 120 * SECOND
        asn, transfer, q = f"ASN-{self.sku}", f"T-{self.sku}", self.qty()
        self.phases[0] += [
            Receipt(**self.common(at), qty=q, asn_id=asn),  # type: ignore[arg-type]
            TransferReceived(**self.common(at), qty=q, transfer_id=transfer, from_node=self.other),  # type: ignore[arg-type]
        ]
        shipped = {**self.common(at - 60 * SECOND), "node_id": self.other}
        self.phases[2] += [
            InboundExpected(**self.common(at - 600 * SECOND), qty=q + 10, asn_id=asn),  # type: ignore[arg-type]
            TransferShipped(**shipped, qty=q + 7, transfer_id=transfer, to_node=self.node),  # type: ignore[arg-type]
        ]


def adversarial_phases(
    seed: int, *, skus: int, run: str, dup_share: float = 0.05
) -> list[list[Event]]:
    """Per SKU: picks and cancels before their orders, receipts before their ASN or shipment,
    deltas around cycle counts arriving before and after them, tied and late older counts.
    Phase 0 goes out first, then 1, then 2; each phase is shuffled across the topics.
    `dup_share` of the distinct events are published again in the same or a later phase."""
    rng = random.Random(seed)
    base = time.time_ns() // 1000 - 2 * 3600 * SECOND
    phases: list[list[Event]] = [[], [], []]
    for k in range(skus):
        story = _Story(rng, run, k, base)
        story.counts()
        story.deltas_around_the_count()
        story.orders_after_their_picks_and_cancels()
        story.supplies_received_before_expected()
        for n, events in enumerate(story.phases):
            phases[n] += events
    distinct = [(n, e) for n, events in enumerate(phases) for e in events]
    for n, event in rng.sample(distinct, int(len(distinct) * dup_share)):
        phases[rng.randrange(n, len(phases))].append(event)
    for events in phases:
        rng.shuffle(events)
    return phases


def on_one_utc_day(*streams: Sequence[Event]) -> list[list[Event]]:
    """The streams with every event moved back in time by the same amount, when they
    straddle a UTC midnight, so that all of them occur on the UTC day before it (they span
    less than a day). A uniform shift keeps the ledger they fold to; a SKU's review day is
    its event clock's (DESIGN.md section 5), so every review of the run then plans on that
    one day. Events only move back: none lands in the future."""
    times = [e.occurred_us for events in streams for e in events]
    first, last = min(times), max(times)
    if first // DAY == last // DAY:
        return [list(events) for events in streams]
    shift = last % DAY + SECOND  # the last event lands a second before its day began
    assert last - first < DAY - SECOND, "the streams span a day or more"
    return [
        [dataclasses.replace(e, occurred_us=e.occurred_us - shift) for e in events]
        for events in streams
    ]


@dataclass(frozen=True)
class Poison:
    topic: str
    key: bytes | None
    value: bytes
    reason: DlqReason
    kind: str


def _iso(epoch_us: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_us / SECOND))


def _without(d: dict[str, object], name: str) -> dict[str, object]:
    return {k: v for k, v in d.items() if k != name}


def poison_message(n: int, run: str) -> Poison:
    """The n-th poison message, cycling through every kind issue #7 names."""
    sku = f"SKU-{run}-poison"
    valid = {"event_id": f"{run}-poison-{n}", "event_type": "receipt", "schema_version": 1,
             "occurred_at": _iso(time.time_ns() // 1000 - 60 * SECOND), "source": "rel",
             "node_id": "DC-1", "sku": sku, "qty": 1}  # fmt: skip
    kinds: list[tuple[str, dict[str, object] | bytes, DlqReason, str]] = [
        ("malformed JSON", b'{"event_id": "x", "qty": ', R.BAD_JSON, sku),
        ("schema-invalid", _without(valid, "qty"), R.INVALID_FIELD, sku),
        ("unknown version", {**valid, "schema_version": 2}, R.UNSUPPORTED_SCHEMA_VERSION, sku),
        ("unknown type", {**valid, "event_type": "teleport"}, R.UNKNOWN_EVENT_TYPE, sku),
        ("out of range", {**valid, "qty": 1_000_001}, R.INVALID_FIELD, sku),
        ("bad node id", {**valid, "node_id": "DC 1!"}, R.INVALID_FIELD, sku),
        ("bad event id", {**valid, "event_id": ""}, R.INVALID_FIELD, sku),
        ("over 64 KiB", {**valid, "note": "x" * 70_000}, R.TOO_LARGE, sku),
        ("key differs from sku", valid, R.KEY_MISMATCH, f"{sku}-other"),
    ]  # fmt: skip
    kind, body, reason, key = kinds[n % len(kinds)]
    value = body if isinstance(body, bytes) else json.dumps(body).encode()
    topics = sorted(set(TOPIC_BY_TYPE.values()))
    topic = topics[n % len(topics)]
    return Poison(topic, key.encode(), value, reason, kind)


POISON_KINDS = 9
