"""Rebuild the ledger from the input log, for disaster recovery: everything the log still
holds is replayed, from its beginning up to where it ended when the rebuild started,
through the ledger pipeline into a fresh staging ledger; then the staging ledger replaces
the live one. Nothing is published (the ATP topic and the DLQ already have what they need).

Run it with the workers stopped: the replay stops where the log ended at its start, and a
worker writing meanwhile would be overwritten by the swap. The log refuses to start while
workers consume it, or while it cannot name every input: then nothing is replaced.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from stockline.service_layer.planning import Planner
from stockline.service_layer.ports import DeadLetter, LedgerStore, RawRecord
from stockline.service_layer.process_batch import LedgerPipeline

Progress = Callable[[int, int], None]
"""Called with (records replayed so far, records to replay)."""

Process = Callable[[Sequence[RawRecord]], Awaitable[object]]


class RebuildRefused(RuntimeError):
    """The rebuild did not start; nothing was replaced."""


class WorkersRunning(RebuildRefused):
    """The consumer group has live members: stop the workers before a rebuild."""


class MissingInputs(RebuildRefused):
    """An input the log cannot name: replaying without it would lose its events."""


class InputLog(Protocol):
    """What a rebuild replays: the input topics."""

    async def check(self) -> None:
        """Raise RebuildRefused unless a replay may start; fixes what `replay` reads."""
        ...

    async def replay(self, process: Process, progress: Progress) -> int:
        """Hand every record, from the beginning up to where the log ended at `check`, to
        `process` in batches, in order per partition; returns how many."""
        ...


class StagingLedger(Protocol):
    """A ledger of fresh keys beside the live one."""

    @property
    def store(self) -> LedgerStore:
        """The staging ledger, empty at first."""
        ...

    async def swap_in(self) -> int:
        """Make the staging ledger the live one; returns how many keys moved."""
        ...


class Discard:
    """A Publisher that publishes nothing: a rebuild only recomputes the ledger."""

    async def publish_atp(
        self, nodes: Sequence[tuple[str, str, bytes]], skus: Sequence[tuple[str, bytes]]
    ) -> None:
        return None

    async def dead_letter(self, records: Sequence[DeadLetter]) -> None:
        return None

    async def publish_signals(
        self, reorder: Sequence[tuple[str, bytes]], rebalance: Sequence[tuple[str, bytes]]
    ) -> None:
        return None


@dataclass(frozen=True)
class RebuildReport:
    records: int
    keys_swapped: int
    seconds: float


async def rebuild(
    log: InputLog,
    staging: Callable[[], StagingLedger],
    planner: Planner,
    retention_us: int,
    progress: Progress,
) -> RebuildReport:
    """Check the log, replay it into a staging ledger, swap that in (see the module doc).
    Each record is validated at its own time, as the worker did when it came."""
    await log.check()
    started = time.monotonic()
    ledger = staging()
    pipeline = LedgerPipeline(
        ledger.store, Discard(), retention_us, planner=planner, validate_at_record_time=True
    )
    records = await log.replay(pipeline.process, progress)
    swapped = await ledger.swap_in()
    return RebuildReport(records, swapped, time.monotonic() - started)
