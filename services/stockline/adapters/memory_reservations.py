"""In-memory reservation ports (records, hold log, sweep lease): the behaviour of the Redis
and Kafka adapters, for tests and the OpenAPI generator."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from stockline.domain.events import InventoryEvent
from stockline.service_layer.reservation_ports import (
    LogUnavailable,
    Outcome,
    RecordState,
    ReservationRecord,
)


@dataclass
class MemoryReservationRecords:
    records: dict[str, ReservationRecord] = field(default_factory=dict)
    extensions: dict[str, int] = field(default_factory=dict)

    async def claim(
        self, reservation_id: str, digest: str, now_us: int, deadline_us: int
    ) -> tuple[ReservationRecord, bool]:
        current = self.records.get(reservation_id)
        if current is None:
            attempt = 1
        elif (
            current.state is RecordState.PENDING
            and current.deadline_us <= now_us
            and current.digest == digest
        ):
            attempt = current.attempt
        else:
            return current, False
        claimed = ReservationRecord(
            reservation_id, digest, RecordState.PENDING, attempt, deadline_us=deadline_us
        )
        self.records[reservation_id] = claimed
        return claimed, True

    async def get(self, reservation_id: str) -> ReservationRecord | None:
        return self.records.get(reservation_id)

    async def answer(
        self,
        record: ReservationRecord,
        outcome: Outcome,
        answer: bytes,
        expires_us: int,
        keep_until_us: int,
    ) -> None:
        self.records[record.reservation_id] = replace(
            record,
            state=RecordState.ANSWERED,
            outcome=outcome,
            answer=answer,
            expires_us=expires_us,
        )

    async def next_extension(self, reservation_id: str) -> int:
        self.extensions[reservation_id] = self.extensions.get(reservation_id, 0) + 1
        return self.extensions[reservation_id]

    async def set_expiry(self, reservation_id: str, expires_us: int, keep_until_us: int) -> None:
        record = self.records[reservation_id]
        self._update(reservation_id, expires_us=max(record.expires_us, expires_us))

    async def mark_released(self, reservation_id: str) -> None:
        self._update(reservation_id, released=True)

    async def mark_expired(self, reservation_ids: Iterable[str]) -> None:
        for rid in reservation_ids:
            if rid in self.records:
                self._update(rid, expired=True)

    def _update(self, reservation_id: str, **changes: object) -> None:
        self.records[reservation_id] = replace(self.records[reservation_id], **changes)  # type: ignore[arg-type]


@dataclass
class ListHoldLog:
    """A hold log that keeps what it was given; `down` makes it refuse like a dead broker."""

    events: list[InventoryEvent] = field(default_factory=list)
    down: bool = False

    async def publish(self, events: Sequence[InventoryEvent]) -> None:
        if self.down:
            raise LogUnavailable("the log is down")
        self.events.extend(events)


@dataclass
class MemoryLease:
    held: bool = True

    async def acquire(self) -> bool:
        return self.held
