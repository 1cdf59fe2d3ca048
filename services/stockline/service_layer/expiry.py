"""Hold expiry (DESIGN.md section 6): stockline publishes `hold_released` (reason expired)
within 2 s of a hold's `expires_at`, so the ledger stays a function of its events.

Every API process runs `HoldExpiry.run`; the sweep lease lets one of them sweep at a time
(it lapses when its holder dies, and another takes over). A sweep logs the releases first
and applies them after, so a hold is never released in the ledger without its event. The
event id is a pure function of the hold, so two sweepers that overlap publish the same
event twice, and the ledger applies it once.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from stockline.domain.events import HoldReleased, HoldReleaseReason
from stockline.service_layer.ports import DueHold, HoldStore
from stockline.service_layer.reservation_ports import HoldLog, ReservationRecords, SweepLease
from stockline.service_layer.reservations import SOURCE, wall_us

log = logging.getLogger(__name__)

MAX_EVENT_ID = 128
LATE_US = 2_000_000
"""A hold more than this past its expiry at a sweep is late (DESIGN.md: within 2 s)."""


def expiry_id(hold: DueHold) -> str:
    """`<rid>|<node>|<sku>|expired`, or a digest of it when that is over 128 characters."""
    text = f"{hold.reservation_id}|{hold.node_id}|{hold.sku}|expired"
    if len(text) <= MAX_EVENT_ID:
        return text
    return f"expired|{hashlib.sha256(text.encode()).hexdigest()[:48]}"


def expiry_of(hold: DueHold) -> HoldReleased:
    """The hold's release; it occurred at the expiry, so every sweeper writes the same event."""
    return HoldReleased(
        expiry_id(hold),
        hold.expires_us,
        SOURCE,
        hold.node_id,
        hold.sku,
        reservation_id=hold.reservation_id,
        reason=HoldReleaseReason.EXPIRED,
    )


@dataclass
class HoldExpiry:
    """Sweeps due holds while this process holds the lease. `on_sweep(late, released)`
    reports each sweep: holds found more than 2 s past expiry, and holds released."""

    holds: HoldStore
    log: HoldLog
    records: ReservationRecords
    lease: SweepLease
    clock: Callable[[], int] = wall_us
    on_sweep: Callable[[int, int], None] = lambda late, released: None
    interval_s: float = 0.5
    limit: int = 1000
    check_every: int = 10
    """Without the lease, count late holds every this many intervals anyway: a dead or
    stuck sweeper must show in the gauge."""
    _idle: int = 0

    async def sweep(self) -> int:
        """One sweep if the lease is ours: the number of holds released (0 without it)."""
        now = self.clock()
        if not await self.lease.acquire():
            self._idle += 1
            if self._idle % self.check_every == 0:
                overdue = await self.holds.due_holds(now - LATE_US, self.limit)
                self.on_sweep(len(overdue), 0)
            return 0
        due = await self.holds.due_holds(now, self.limit)
        late = sum(1 for hold in due if hold.expires_us < now - LATE_US)
        if due:
            events = [expiry_of(hold) for hold in due]
            await self.log.publish(events)  # first: never released without its event
            await self.holds.pre_apply(events, now)
            await self.records.mark_expired({hold.reservation_id for hold in due})
        self.on_sweep(late, len(due))
        return len(due)

    async def run(self) -> None:
        """Sweep every `interval_s` until cancelled; a failed sweep is logged and retried
        (sooner when a sweep was full: more may be due)."""
        while True:
            released = 0
            try:
                released = await self.sweep()
            except Exception:
                log.exception("hold expiry sweep failed; retrying")
            await asyncio.sleep(self.interval_s if released < self.limit else 0)
