"""Crashes and data loss lose nothing: the ledger ends equal to the reference fold."""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from stockline.adapters.redis.store import RedisLedgerStore
from stockline.domain.events import Event
from tests.integration.conftest import spawn
from tests.integration.feed import feed
from tests.integration.harness import (
    Producer,
    WorkerProcess,
    World,
    eventually,
    metric_value,
    published_nodes,
    scrape,
)
from tests.unit.domain.reference import reference_fold

pytestmark = [pytest.mark.kafka, pytest.mark.redis]

Ledger = dict[str, dict[str, tuple[int, int, int, int]]]


async def read_ledger(store: RedisLedgerStore, skus: list[str]) -> Ledger:
    out: Ledger = {}
    for sku in skus:
        snapshot = await store.snapshot(sku)
        if snapshot is not None:
            out[sku] = {
                n: (s.on_hand, s.reserved, s.inbound, s.held) for n, s in snapshot.nodes.items()
            }
    return out


def as_ledger(records: dict[tuple[str, str], dict[str, Any]]) -> Ledger:
    """Latest node records in the shape of `read_ledger`."""
    out: Ledger = {}
    for (sku, node), r in sorted(records.items()):
        out.setdefault(sku, {})[node] = (r["on_hand"], r["reserved"], r["inbound"], r["held"])
    return out


async def ledger_reaches(store: RedisLedgerStore, expected: Ledger, timeout: float = 120) -> Ledger:
    skus = sorted(expected)
    return await eventually(
        lambda: read_ledger(store, skus), lambda got: got == expected, timeout=timeout
    )


def with_duplicates(events: list[Event], seed: int, share: float = 0.05) -> list[Event]:
    rng = random.Random(seed)
    out = list(events)
    for event in rng.sample(events, int(len(events) * share)):
        out.insert(rng.randrange(len(out) + 1), event)
    return out


async def applied(worker: WorkerProcess) -> float:
    text = await scrape(worker)
    return sum(
        metric_value(text, "stockline_events_total", type=t, outcome="applied")
        for t in (
            "receipt",
            "pick",
            "cycle_count",
            "order_placed",
            "order_cancelled",
            "adjustment",
            "inbound_expected",
            "transfer_shipped",
            "transfer_received",
        )
    )


async def test_kill_9_mid_stream_then_restart_gives_the_reference_ledger(
    world: World,
    workers: list[WorkerProcess],
    ledger: RedisLedgerStore,
    tmp_path: Path,
    figures: dict[str, str],
) -> None:
    events = feed(7, skus=40, events=12_000, run=world.run)
    expected = reference_fold(events)
    await world.create_topics()
    async with Producer(world) as producer:
        await producer.events(with_duplicates(events, seed=7))

    first = spawn(workers, world, tmp_path)
    progress = await eventually(lambda: applied(first), lambda n: n >= 3000, timeout=60)
    assert progress >= 3000, first.log_tail()
    first.kill()
    assert first.proc is not None
    assert first.proc.returncode == -signal.SIGKILL, first.log_tail()
    at_kill = await read_ledger(ledger, sorted(expected))
    assert at_kill != expected, "the worker had applied everything before the kill"

    started = time.monotonic()
    second = spawn(workers, world, tmp_path)
    got = await ledger_reaches(ledger, expected)
    elapsed = time.monotonic() - started
    assert got == expected, second.log_tail()
    figures["restart: events applied after kill -9, per second (incl. worker start)"] = (
        f"{(len(events) - progress) / elapsed:,.0f}"
    )

    # what a storefront reading inventory.atp.nodes keeps agrees with the ledger, although
    # the crash made the worker redo (and republish) part of a batch
    published = await eventually(
        lambda: published_nodes(world), lambda got: as_ledger(got) == expected, timeout=20
    )
    assert as_ledger(published) == expected, "inventory.atp.nodes disagrees with the ledger"
    for sku in expected:
        snapshot = await ledger.snapshot(sku)
        assert snapshot is not None
        assert max(r["version"] for (s, _), r in published.items() if s == sku) == snapshot.version


async def test_redis_losing_its_tail_is_replayed_from_the_applied_watermark(
    world: World, workers: list[WorkerProcess], ledger: RedisLedgerStore, tmp_path: Path
) -> None:
    events = feed(11, skus=20, events=4_000, run=world.run)
    first_half, second_half = events[:2_000], events[2_000:]
    await world.create_topics()
    redis = Redis.from_url(world.redis_url)
    prefix = world.settings.key_prefix

    async with Producer(world) as producer:
        await producer.events(first_half)
        worker = spawn(workers, world, tmp_path)
        assert await ledger_reaches(ledger, reference_fold(first_half)) == reference_fold(
            first_half
        )
        worker.stop()
        backup = {key: await redis.dump(key) async for key in redis.scan_iter(match=f"{prefix}:*")}

        await producer.events(second_half)
        worker = spawn(workers, world, tmp_path)
        assert await ledger_reaches(ledger, reference_fold(events)) == reference_fold(events)
        worker.stop()  # Kafka's committed offsets now cover every event

    # Redis comes back from an older state: everything after the first half is gone.
    async for key in redis.scan_iter(match=f"{prefix}:*"):
        await redis.unlink(key)
    for key, dumped in backup.items():
        assert dumped is not None
        await redis.restore(key, 0, dumped)
    assert await read_ledger(ledger, sorted(reference_fold(events))) == reference_fold(first_half)

    worker = spawn(workers, world, tmp_path)
    got = await ledger_reaches(ledger, reference_fold(events))
    assert got == reference_fold(events), worker.log_tail()
    await redis.aclose()
