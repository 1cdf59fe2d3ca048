"""Issue #7.4: scale from 1 to 3 workers and back to 1 while a producer streams; the ledger
equals the reference fold and no partition is left without progress.

Short (CI): 20,000 events over about 30 s, 3 partitions per input topic (18 in all);
`--soak`: 200,000 events over about 5 min. Scaling in is a clean stop (SIGTERM), as a
Kubernetes scale-down does.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.integration.conftest import spawn
from tests.integration.feed import feed
from tests.integration.harness import Producer, WorkerProcess, World, eventually
from tests.reliability.checks import (
    LedgerProbe,
    WorkerStatus,
    divergent_cells,
    produce_paced,
    stalled_partitions,
    status,
)
from tests.reliability.conftest import Sizes
from tests.unit.domain.reference import reference_fold

pytestmark = [pytest.mark.kafka, pytest.mark.redis, pytest.mark.reliability]


async def statuses(workers: list[WorkerProcess]) -> list[WorkerStatus]:
    return list(await asyncio.gather(*(status(w) for w in workers)))


async def until_owned(workers: list[WorkerProcess], total: int) -> tuple[list[WorkerStatus], float]:
    """Wait until the workers together own all `total` partitions, each some, and each has
    processed events; returns their statuses and the seconds it took."""
    started = time.monotonic()

    def settled(got: list[WorkerStatus]) -> bool:
        return sum(s.partitions for s in got) == total and all(
            s.partitions > 0 and s.processed > 0 for s in got
        )

    got = await eventually(lambda: statuses(workers), settled, timeout=60)
    assert settled(got), [w.log_tail(10) for w in workers]
    return got, time.monotonic() - started


async def test_scaling_from_1_to_3_workers_and_back_under_load(
    world: World,
    workers: list[WorkerProcess],
    probe: LedgerProbe,
    sizes: Sizes,
    tmp_path: Path,
    figures: dict[str, str],
) -> None:
    events = feed(
        404, skus=sizes.pick(500, 5_000), events=sizes.pick(20_000, 200_000), run=world.run
    )
    expected = reference_fold(events)
    total = len(world.settings.input_topics) * world.partitions
    await world.create_topics()
    first = spawn(workers, world, tmp_path)
    seconds = sizes.pick(30, 300)

    async with Producer(world) as producer:
        producing = asyncio.create_task(produce_paced(producer, events, seconds=seconds))
        await until_owned([first], total)
        extra = [spawn(workers, world, tmp_path) for _ in range(2)]
        three, scale_out_s = await until_owned([first, *extra], total)
        await asyncio.sleep(seconds / 3)
        await asyncio.gather(*(asyncio.to_thread(w.stop) for w in extra))
        _, scale_in_s = await until_owned([first], total)
        await producing

    skus = sorted(expected)
    got = await eventually(lambda: probe.ledger(skus), lambda g: g == expected, timeout=120)
    stalled = await eventually(lambda: stalled_partitions(world, probe), lambda s: not s)
    name = f"4 rebalance 1->3->1 ({len(events):,} events, {total} partitions)"
    figures[f"{name}: divergent ledger cells"] = str(divergent_cells(got, expected))
    figures[f"{name}: partitions without progress"] = str(len(stalled))
    figures[f"{name}: partitions per worker at 3"] = str([s.partitions for s in three])
    figures[f"{name}: scale-out / scale-in until all owned (s)"] = (
        f"{scale_out_s:.1f} / {scale_in_s:.1f}"
    )
    assert divergent_cells(got, expected) == 0
    assert stalled == []
