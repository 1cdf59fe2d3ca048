"""A backlog of 20,000 events over 2,000 SKUs drains into the exact reference ledger.

Reports the worker's apply rate as a figure; it asserts correctness, never speed."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from stockline.adapters.redis.store import RedisLedgerStore
from tests.integration.conftest import spawn
from tests.integration.feed import feed
from tests.integration.harness import (
    Producer,
    WorkerProcess,
    World,
    eventually,
    metric_value,
    scrape,
)
from tests.integration.test_recovery import applied, ledger_reaches
from tests.unit.domain.reference import reference_fold

pytestmark = [pytest.mark.kafka, pytest.mark.redis]


async def test_a_backlog_drains_into_the_reference_ledger(
    world: World,
    workers: list[WorkerProcess],
    ledger: RedisLedgerStore,
    tmp_path: Path,
    figures: dict[str, str],
) -> None:
    events = feed(23, skus=2_000, events=20_000, run=world.run)
    await world.create_topics()
    async with Producer(world) as producer:
        await producer.events(events)

    worker = spawn(workers, world, tmp_path)
    await eventually(lambda: applied(worker), lambda n: n > 0, timeout=60)
    started = time.monotonic()
    done = await eventually(lambda: applied(worker), lambda n: n >= len(events), timeout=180)
    elapsed = time.monotonic() - started
    assert done == len(events), worker.log_tail()

    assert await ledger_reaches(ledger, reference_fold(events), timeout=10) == reference_fold(
        events
    )
    text = await scrape(worker)
    figures["backlog drain, one worker: events applied per second"] = (
        f"{len(events) / elapsed:,.0f}"
    )
    published = metric_value(text, "stockline_atp_messages_total")
    figures["backlog drain: ATP records published (coalesced per node and SKU per batch)"] = (
        f"{published:,.0f}"
    )
