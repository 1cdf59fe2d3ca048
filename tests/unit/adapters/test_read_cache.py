"""The per-process read cache of the API (`STOCKLINE_API_READ_CACHE_MS`): its freshness
bound, `as_of` as the time of the ledger read, one ledger read for concurrent misses."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from tests.unit.adapters.test_http_caching import receive
from tests.unit.service_layer.read_side import T0, receipt, stock

from stockline.adapters.http.reads import SkuReads
from stockline.adapters.memory import MemoryLedgerReader, MemoryLedgerStore, StaticNetworkView
from stockline.contracts.outbound import AtpMessage, as_of
from stockline.service_layer.availability import Availability
from stockline.service_layer.ports import SkuSnapshot

TTL = 0.25


class Clock:
    """Monotonic seconds that move only when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class CountingReader(MemoryLedgerReader):
    """The in-memory reader, counting the SKUs each read asks for; with `gate`, a read
    waits for it to open (so concurrent requests really overlap)."""

    def __init__(self, store: MemoryLedgerStore) -> None:
        super().__init__(store)
        self.asked: list[list[str]] = []
        self.gate: asyncio.Event | None = None
        self.broken = False

    async def snapshots(self, skus: Sequence[str]) -> list[SkuSnapshot | None]:
        self.asked.append(list(skus))
        if self.gate is not None:
            await self.gate.wait()
        if self.broken:
            raise ConnectionError("ledger down")
        return await super().snapshots(skus)


@pytest.fixture
async def store() -> MemoryLedgerStore:
    store = MemoryLedgerStore()
    await stock(store)
    return store


def reads_of(store: MemoryLedgerStore, clock: Clock, ttl: float = TTL, **kw: int) -> SkuReads:
    reader = CountingReader(store)
    wall = iter(range(T0, T0 + 10**9, 1000))  # each ledger read 1 ms after the last
    availability = Availability(reader, StaticNetworkView(), clock=lambda: next(wall))
    return SkuReads(availability, ttl_s=ttl, monotonic=clock, **kw)


def reader_of(reads: SkuReads) -> CountingReader:
    reader = reads.availability.reader
    assert isinstance(reader, CountingReader)
    return reader


async def version(reads: SkuReads, sku: str = "SKU-A") -> int | None:
    """Which change of the SKU the answer shows (1: the first); all are applied at T0."""
    read = await reads.one(sku)
    return None if read is None else read.version - T0 + 1  # the n-th change, at T0


async def test_an_answer_is_at_most_the_ttl_old(store: MemoryLedgerStore) -> None:
    clock = Clock()
    reads = reads_of(store, clock)
    assert await version(reads) == 1
    await receive(store, receipt("SKU-A", "DC-1", 5))
    clock.now += TTL - 0.001
    assert await version(reads) == 1  # kept: read less than the TTL ago
    clock.now += 0.001
    assert await version(reads) == 2  # the TTL after the read started: read again
    assert reader_of(reads).asked == [["SKU-A"], ["SKU-A"]]


async def test_as_of_is_when_the_ledger_was_read(store: MemoryLedgerStore) -> None:
    clock = Clock()
    reads = reads_of(store, clock)
    first = await reads.one("SKU-A")
    clock.now += TTL / 2
    again = await reads.one("SKU-A")
    assert first is again is not None
    assert AtpMessage.model_validate_json(again.body).as_of == as_of(T0)


async def test_without_a_ttl_every_request_reads_the_ledger(store: MemoryLedgerStore) -> None:
    reads = reads_of(store, Clock(), ttl=0)
    await reads.one("SKU-A")
    await receive(store, receipt("SKU-A", "DC-1", 5))
    assert await version(reads) == 2
    assert len(reader_of(reads).asked) == 2


async def test_an_unknown_sku_is_kept_unknown_for_the_ttl_too(store: MemoryLedgerStore) -> None:
    clock = Clock()
    reads = reads_of(store, clock)
    assert await version(reads, "SKU-NEW") is None
    await receive(store, receipt("SKU-NEW", "DC-1", 5))
    assert await version(reads, "SKU-NEW") is None
    clock.now += TTL
    assert await version(reads, "SKU-NEW") == 1


async def test_concurrent_misses_share_one_ledger_read(store: MemoryLedgerStore) -> None:
    reads = reads_of(store, Clock())
    reader_of(reads).gate = gate = asyncio.Event()
    waiting = [asyncio.create_task(reads.many(["SKU-A", "SKU-B"])) for _ in range(5)]
    waiting.append(asyncio.create_task(reads.many(["SKU-B", "SKU-P01"])))
    await asyncio.sleep(0)
    gate.set()
    answers = await asyncio.gather(*waiting)
    assert reader_of(reads).asked == [["SKU-A", "SKU-B"], ["SKU-P01"]]
    assert {a[0] is answers[0][0] for a in answers[:5]} == {True}
    assert answers[5][0] is answers[0][1]


async def test_a_failed_read_fails_its_waiters_and_is_not_kept(store: MemoryLedgerStore) -> None:
    reads = reads_of(store, Clock())
    reader = reader_of(reads)
    reader.gate, reader.broken = asyncio.Event(), True
    waiting = [asyncio.create_task(reads.one("SKU-A")) for _ in range(3)]
    await asyncio.sleep(0)
    reader.gate.set()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert [type(r) for r in results] == [ConnectionError] * 3
    reader.broken = False
    assert await version(reads) == 1
    assert len(reader.asked) == 2


async def test_the_cache_holds_at_most_max_skus(store: MemoryLedgerStore) -> None:
    clock = Clock()
    reads = reads_of(store, clock, max_skus=3)
    for n in range(6):
        await reads.one(f"SKU-P{n:02d}")
    await reads.many(["SKU-P03", "SKU-P04", "SKU-P05"])  # the last three are kept
    await reads.one("SKU-P00")  # the first was dropped
    assert reader_of(reads).asked[6:] == [["SKU-P00"]]
