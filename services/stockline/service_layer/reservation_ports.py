"""What the reservation use cases need besides the ledger's `HoldStore`: a record per
reservation (its claim, its answer, what became of its holds), a log the hold events are
made durable on (`inventory.reservations`), and a lease that lets one process at a time
sweep expired holds. Adapters: `adapters/redis/reservations.py`, `adapters/kafka/holds.py`,
and the in-memory ones in `adapters/memory_reservations.py`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from stockline.domain.events import InventoryEvent


class RecordState(StrEnum):
    PENDING = "pending"  # claimed; a request is deciding it
    ANSWERED = "answered"  # decided; `answer` is what every replay gets


class Outcome(StrEnum):
    """How a decision ended: the stored answer's kind."""

    HELD = "held"
    INSUFFICIENT_STOCK = "insufficient_stock"
    UNAVAILABLE = "unavailable"
    """The log did not take the holds: they were undone. Final for the id: a hold
    (reservation, node, sku) that was released holds nothing again, so a retry under the
    same id would be answered 201 for units it does not hold (docs/reservations.md)."""


@dataclass(frozen=True, slots=True)
class ReservationRecord:
    """One reservation as the API keeps it, beside the ledger's holds.

    `digest` identifies the request body; `attempt` numbers the decisions; a PENDING
    record past
    `deadline_us` was left by a process that died and may be taken over (same attempt: the
    ledger recognises the event ids and replays the decisions). `answer` is the JSON body
    of the stored answer; `expires_us` the holds' current expiry (extensions raise it)."""

    reservation_id: str
    digest: str
    state: RecordState
    attempt: int
    deadline_us: int = 0
    outcome: Outcome | None = None
    answer: bytes = b""
    expires_us: int = 0
    released: bool = False
    expired: bool = False


class ReservationRecords(Protocol):
    async def claim(
        self, reservation_id: str, digest: str, now_us: int, deadline_us: int
    ) -> tuple[ReservationRecord, bool]:
        """Atomically: with no record, or a PENDING one past its deadline (same attempt, if
        the digest matches), write a PENDING record for
        `digest` and answer it with True; otherwise answer the record as it is, False."""
        ...

    async def get(self, reservation_id: str) -> ReservationRecord | None: ...

    async def answer(
        self,
        record: ReservationRecord,
        outcome: Outcome,
        answer: bytes,
        expires_us: int,
        keep_until_us: int,
    ) -> None:
        """Store the decision of `record`'s attempt (state ANSWERED) and its holds' expiry;
        the record is kept until `keep_until_us`."""
        ...

    async def next_extension(self, reservation_id: str) -> int:
        """1, 2, ...: the number of this extension of the reservation (atomic counter)."""
        ...

    async def set_expiry(self, reservation_id: str, expires_us: int, keep_until_us: int) -> None:
        """Raise the holds' recorded expiry to `expires_us` (never lowers it)."""
        ...

    async def mark_released(self, reservation_id: str) -> None: ...

    async def mark_expired(self, reservation_ids: Iterable[str]) -> None:
        """Note that the holds of these reservations expired (ids without a record are
        skipped: any publisher may place holds)."""
        ...


class LogUnavailable(Exception):
    """The hold log did not acknowledge the events (in time)."""


class HoldLog(Protocol):
    async def publish(self, events: Sequence[InventoryEvent]) -> None:
        """Return once every event is durable on the log (Kafka acks=all), keyed by SKU;
        raise `LogUnavailable` otherwise (some events may still have got through)."""
        ...


class SweepLease(Protocol):
    async def acquire(self) -> bool:
        """True while this process holds the sweep lease (taken, or renewed if already
        ours); it lapses by itself when the holder stops renewing it."""
        ...
