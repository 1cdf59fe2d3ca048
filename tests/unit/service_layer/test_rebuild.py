"""The rebuild use case on in-memory ports: the log replayed in batches into a staging
ledger that is swapped in only at the end; a refused log replaces nothing."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pytest

from stockline.adapters.memory import MemoryLedgerStore
from stockline.contracts.codec import encode
from stockline.domain.events import Receipt
from stockline.service_layer.planning import Planner
from stockline.service_layer.ports import RawRecord
from stockline.service_layer.rebuild import (
    Process,
    Progress,
    RebuildRefused,
    WorkersRunning,
    rebuild,
)

WEEK_US = 7 * 86_400 * 1_000_000


@dataclass
class ListLog:
    """An input log of records in memory, replayed `batch` at a time."""

    records: list[RawRecord]
    refuse: RebuildRefused | None = None
    batch: int = 2
    checked: bool = False

    async def check(self) -> None:
        if self.refuse is not None:
            raise self.refuse
        self.checked = True

    async def replay(self, process: Process, progress: Progress) -> int:
        assert self.checked, "replay before check"
        for start in range(0, len(self.records), self.batch):
            await process(self.records[start : start + self.batch])
            progress(min(start + self.batch, len(self.records)), len(self.records))
        return len(self.records)


@dataclass
class MemoryStaging:
    live: dict[str, MemoryLedgerStore]
    store: MemoryLedgerStore = field(default_factory=MemoryLedgerStore)

    async def swap_in(self) -> int:
        self.live["ledger"] = self.store
        return len(self.store.ledgers)


def records(n: int) -> list[RawRecord]:
    now = time.time_ns() // 1000
    events = [
        Receipt(f"r-{i}", now - 60_000_000, "wms", "DC-1", f"SKU-{i % 3}", 10) for i in range(n)
    ]
    return [
        RawRecord("inventory.receipts", 0, i, e.sku.encode(), encode(e))
        for i, e in enumerate(events)
    ]


async def on_hand(store: MemoryLedgerStore, sku: str) -> int:
    snapshot = await store.snapshot(sku)
    assert snapshot is not None
    return snapshot.nodes["DC-1"].on_hand


async def test_the_log_is_replayed_into_staging_then_swapped_in() -> None:
    live = {"ledger": MemoryLedgerStore()}
    seen: list[tuple[int, int]] = []
    report = await rebuild(
        ListLog(records(7)),
        lambda: MemoryStaging(live),
        Planner(None),
        WEEK_US,
        lambda done, total: seen.append((done, total)),
    )
    assert (report.records, report.keys_swapped) == (7, 3)
    assert [await on_hand(live["ledger"], f"SKU-{s}") for s in range(3)] == [30, 20, 20]
    assert seen == [(2, 7), (4, 7), (6, 7), (7, 7)]


async def test_a_refused_log_makes_no_staging_and_replaces_nothing() -> None:
    live = {"ledger": MemoryLedgerStore()}
    made: list[MemoryStaging] = []

    def staging() -> MemoryStaging:
        made.append(MemoryStaging(live))
        return made[-1]

    refused = ListLog(records(3), refuse=WorkersRunning("stop the workers"))
    with pytest.raises(RebuildRefused, match="stop the workers"):
        await rebuild(refused, staging, Planner(None), WEEK_US, lambda done, total: None)
    assert made == []
    assert live["ledger"].ledgers == {}
