"""Reservations (DESIGN.md section 6): holds decided atomically per SKU on the ledger, made
durable as `hold_placed` events before the answer, replayed by reservation_id.

POST, top to bottom: claim the record (same body answered: the same answer; another body:
conflict) -> decide every line at once, one atomic step per SKU -> with all_or_nothing
and a refused line, release what was held -> publish the holds and await the log -> store
the answer. When the log fails, the 503 is stored as the reservation's answer, then the
holds are released again: the same id answers the same 503 from then on (a released hold
holds nothing again), and the storefront tries again under a new reservation_id.

Event ids are deterministic: `<rid>#<attempt>.<line>` for a placement, the placement's id
plus `|released` for its release, plus `+<n>` for the n-th extension, so a retried or
taken-over step is recognised by the ledger. docs/reservations.md has the whole story.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from stockline.contracts.api import (
    ErrorBody,
    HeldLine,
    InsufficientStock,
    RefusedLine,
    Reservation,
    ReservationLine,
    ReservationRequest,
)
from stockline.contracts.rfc3339 import render_utc
from stockline.domain.events import HoldExtended, HoldPlaced, HoldReleased, HoldReleaseReason
from stockline.service_layer.ports import HoldDecision, HoldRequest, HoldStore
from stockline.service_layer.reservation_ports import (
    HoldLog,
    LogUnavailable,
    Outcome,
    RecordState,
    ReservationRecord,
    ReservationRecords,
)

log = logging.getLogger(__name__)

SOURCE = "stockline-api"
KEEP_US = 86_400 * 1_000_000
"""How long a record outlives its holds' expiry (replays and GETs still answer)."""


class ReservationError(Exception):
    """A request the use case refuses; `code` is the stable error code."""

    code = "reservation_error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class Conflict(ReservationError):
    code = "reservation_conflict"


class InProgress(ReservationError):
    code = "reservation_in_progress"


class NotFound(ReservationError):
    code = "reservation_not_found"


class Closed(ReservationError):
    """Released or expired: it cannot be extended."""

    code = "reservation_closed"


class Unavailable(ReservationError):
    code = "unavailable"


@dataclass(frozen=True, slots=True)
class Answer:
    """A POST's answer: its kind and JSON body, the same on every replay."""

    outcome: Outcome
    body: bytes
    replayed: bool = False


def wall_us() -> int:
    return time.time_ns() // 1000


def digest_of(request: ReservationRequest) -> str:
    """The body's identity, defaults included (omitting `ttl_seconds` equals sending 900)."""
    return hashlib.sha256(request.model_dump_json().encode()).hexdigest()[:32]


def placed_id(reservation_id: str, attempt: int, line: int) -> str:
    return f"{reservation_id}#{attempt}.{line}"


def release_of(placed: HoldPlaced, now_us: int) -> HoldReleased:
    """The release of a placement (its id derived from the placement's)."""
    return HoldReleased(
        f"{placed.event_id}|released",
        now_us,
        SOURCE,
        placed.node_id,
        placed.sku,
        reservation_id=placed.reservation_id,
        reason=HoldReleaseReason.RELEASED,
    )


@dataclass
class Reservations:
    """The reservation use cases over ports. `on_outcome` counts each answer by outcome
    (held, insufficient_stock, conflict, replayed, unavailable, released, extended, ...)."""

    holds: HoldStore
    log: HoldLog
    records: ReservationRecords
    clock: Callable[[], int] = wall_us
    on_outcome: Callable[[str], None] = lambda _: None
    pending_us: int = 10_000_000
    """How long a claim may stay undecided before another request may take it over."""
    wait_s: float = 3.0
    """How long a request waits for a twin in flight before answering `InProgress`."""
    poll_s: float = 0.05

    async def place(self, request: ReservationRequest) -> Answer:
        """Decide the reservation, or answer the stored decision again."""
        digest, rid = digest_of(request), request.reservation_id
        give_up = time.monotonic() + self.wait_s
        while True:
            now = self.clock()
            record, claimed = await self.records.claim(rid, digest, now, now + self.pending_us)
            if claimed:
                return await self._decide(request, record, now)
            if record.digest != digest:
                self._count("conflict")
                raise Conflict(f"reservation {rid!r} exists with a different body")
            if record.state is RecordState.ANSWERED and record.outcome is not None:
                self._count("replayed")
                return Answer(record.outcome, record.answer, replayed=True)
            if time.monotonic() >= give_up:
                self._count("in_progress")
                raise InProgress(f"reservation {rid!r} is being decided; retry shortly")
            await asyncio.sleep(self.poll_s)

    async def _decide(
        self, request: ReservationRequest, record: ReservationRecord, now: int
    ) -> Answer:
        expires = now + request.ttl_seconds * 1_000_000
        lines = request.lines
        decisions = await asyncio.gather(
            *(
                self.holds.hold(line.sku, self._hold_request(request, record, n, expires), now)
                for n, line in enumerate(lines)
            )
        )
        held = {n: d.placed for n, d in enumerate(decisions) if d.placed is not None}
        placed = list(held.values())
        refused = [_refused(n, lines[n], d) for n, d in enumerate(decisions) if d.placed is None]
        if refused and (request.all_or_nothing or not placed):
            return await self._refuse(record, placed, refused, now, expires)
        if not await self._published(placed):
            return await self._undo(record, placed, now, expires)
        body = _reservation(request.reservation_id, held, refused, expires)
        return await self._store(record, Outcome.HELD, body.model_dump_json().encode(), expires)

    def _hold_request(
        self, request: ReservationRequest, record: ReservationRecord, n: int, expires: int
    ) -> HoldRequest:
        line = request.lines[n]
        return HoldRequest(
            event_id=placed_id(request.reservation_id, record.attempt, n),
            reservation_id=request.reservation_id,
            qty=line.qty,
            candidates=line.candidates,
            expires_us=expires,
            occurred_us=self.clock(),
            source=SOURCE,
        )

    async def _refuse(
        self,
        record: ReservationRecord,
        placed: list[HoldPlaced],
        refused: list[RefusedLine],
        now: int,
        expires: int,
    ) -> Answer:
        """Release what was held, and log placements with their releases (best effort: the
        ledger is already as it was, and a rebuild without the pair is the same)."""
        if placed:
            releases = [release_of(p, now) for p in placed]
            await self.holds.pre_apply(releases, now)
            await self._try_publish([*placed, *releases])
        body = InsufficientStock(
            error="insufficient_stock",
            detail=f"{len(refused)} line(s) could not be held at any candidate node",
            lines=refused,
        )
        answer = body.model_dump_json().encode()
        return await self._store(record, Outcome.INSUFFICIENT_STOCK, answer, expires)

    async def _published(self, placed: list[HoldPlaced]) -> bool:
        try:
            await self.log.publish(placed)
        except LogUnavailable:
            log.warning("the reservation log did not take %d holds; undoing them", len(placed))
            return False
        return True

    async def _undo(
        self, record: ReservationRecord, placed: list[HoldPlaced], now: int, expires: int
    ) -> Answer:
        """The answer first (a crash before the releases leaves holds that expire, never a
        201 for nothing), then the releases, logged best effort: a placement that got
        through is undone too."""
        body = ErrorBody(
            error=Outcome.UNAVAILABLE.value,
            detail="the reservation log (Kafka) did not take the holds; they were undone. "
            "Try again with a new reservation_id",
        )
        answer = await self._store(
            record, Outcome.UNAVAILABLE, body.model_dump_json().encode(), expires
        )
        releases = [release_of(p, now) for p in placed]
        await self.holds.pre_apply(releases, now)
        await self._try_publish(releases)
        return answer

    async def _try_publish(self, events: Sequence[HoldPlaced | HoldReleased]) -> None:
        try:
            await self.log.publish(events)
        except LogUnavailable:
            log.warning("could not log %d hold events; the ledger has them", len(events))

    async def _store(
        self, record: ReservationRecord, outcome: Outcome, answer: bytes, expires: int
    ) -> Answer:
        await self.records.answer(record, outcome, answer, expires, expires + KEEP_US)
        self._count(outcome.value)
        return Answer(outcome, answer)

    async def get(self, reservation_id: str) -> Reservation:
        """The reservation's holds now: held, released or expired."""
        record = await self._held_record(reservation_id)
        return self._view(record)

    async def extend(self, reservation_id: str, ttl_seconds: int) -> Reservation:
        """Every hold expires `ttl_seconds` from now, unless it already expires later
        (an expiry is the latest one named). Logged, then applied."""
        record = await self._held_record(reservation_id)
        status = self._status(record)
        if status != "held":
            raise Closed(f"reservation {reservation_id!r} is {status}; place a new one")
        now = self.clock()
        n = await self.records.next_extension(reservation_id)
        expires = now + ttl_seconds * 1_000_000
        events = [
            HoldExtended(
                f"{placed_id(reservation_id, record.attempt, line.line)}+{n}",
                now,
                SOURCE,
                line.node_id,
                line.sku,
                reservation_id=reservation_id,
                expires_us=expires,
            )
            for line in _lines(record)
        ]
        await self._publish(events)
        await self.holds.pre_apply(events, now)
        await self.records.set_expiry(reservation_id, expires, expires + KEEP_US)
        self._count("extended")
        return self._view(await self._held_record(reservation_id))

    async def release(self, reservation_id: str) -> Reservation:
        """Release every hold (idempotent: a released reservation answers as it is)."""
        record = await self._held_record(reservation_id)
        if not record.released:
            now = self.clock()
            releases = [release_of(_placement(record, line), now) for line in _lines(record)]
            await self._publish(releases)
            await self.holds.pre_apply(releases, now)
            await self.records.mark_released(reservation_id)
            self._count("released")
            record = await self._held_record(reservation_id)
        return self._view(record)

    async def _publish(self, events: Sequence[HoldExtended | HoldReleased]) -> None:
        try:
            await self.log.publish(events)
        except LogUnavailable as exc:
            self._count("unavailable")
            raise Unavailable("the reservation log (Kafka) did not take the events") from exc

    async def _held_record(self, reservation_id: str) -> ReservationRecord:
        record = await self.records.get(reservation_id)
        if record is None or record.state is not RecordState.ANSWERED:
            raise NotFound(f"no reservation {reservation_id!r} holds anything")
        if record.outcome is not Outcome.HELD:
            raise NotFound(f"reservation {reservation_id!r} was refused; it holds nothing")
        return record

    def _status(self, record: ReservationRecord) -> str:
        if record.released:
            return "released"
        return "expired" if record.expired or self.clock() >= record.expires_us else "held"

    def _view(self, record: ReservationRecord) -> Reservation:
        stored = Reservation.model_validate_json(record.answer)
        at = render_utc(record.expires_us)
        lines = [line.model_copy(update={"expires_at": at}) for line in stored.lines]
        return stored.model_copy(
            update={"status": self._status(record), "lines": lines, "expires_at": at}
        )

    def _count(self, outcome: str) -> None:
        self.on_outcome(outcome)


def _refused(n: int, line: ReservationLine, decision: HoldDecision) -> RefusedLine:
    atp = {node: decision.atp.get(node, 0) for node in line.candidates}
    return RefusedLine(line=n, sku=line.sku, qty=line.qty, atp=atp)


def _reservation(
    rid: str, held: dict[int, HoldPlaced], refused: list[RefusedLine], expires: int
) -> Reservation:
    at = render_utc(expires)
    lines = [
        HeldLine(line=n, sku=p.sku, qty=p.qty, node_id=p.node_id, expires_at=at)
        for n, p in held.items()
    ]
    return Reservation(
        reservation_id=rid, status="held", lines=lines, refused=refused, expires_at=at
    )


def _lines(record: ReservationRecord) -> list[HeldLine]:
    return Reservation.model_validate_json(record.answer).lines


def _placement(record: ReservationRecord, line: HeldLine) -> HoldPlaced:
    """The placement of a held line, rebuilt from the record (its id is deterministic)."""
    return HoldPlaced(
        placed_id(record.reservation_id, record.attempt, line.line),
        0,
        SOURCE,
        line.node_id,
        line.sku,
        qty=line.qty,
        reservation_id=record.reservation_id,
        expires_us=record.expires_us,
    )
