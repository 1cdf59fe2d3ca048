"""Issue #7.6: Redis unavailable for 30 s while events keep arriving. The worker pauses and
retries with backoff (it does not spin and does not exit), skips nothing (its committed
offsets do not move while Redis is down), reports not-ready on /readyz and in metrics, and
the ledger is right once Redis is back.

Redis is the test's own redis-server (AOF everysec), killed with kill -9 and restarted on the
same data after the outage. Short (CI) and `--soak` both keep Redis away 30 s; soak sends
60,000 events instead of 6,000.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.conftest import Stack
from tests.integration.conftest import spawn
from tests.integration.feed import feed
from tests.integration.harness import Producer, WorkerProcess, World, eventually, read_topic
from tests.reliability.checks import (
    LedgerProbe,
    committed_offsets,
    divergent_cells,
    metric,
    produce_paced,
    readyz,
    seen_report,
    status,
)
from tests.reliability.conftest import Sizes, TunedWorld
from tests.reliability.servers import RedisServer
from tests.unit.domain.reference import reference_fold

pytestmark = [pytest.mark.kafka, pytest.mark.redis, pytest.mark.reliability]

OUTAGE_S = 30.0
BAD = 3


@pytest.fixture
def world(stack: Stack, own_redis: RedisServer) -> World:
    return TunedWorld(bootstrap=stack.kafka_bootstrap, redis_url=own_redis.url)


async def committed_total(world: World) -> int:
    return sum((await committed_offsets(world)).values())


async def test_a_30_s_redis_outage_pauses_the_worker_and_loses_nothing(
    world: World,
    workers: list[WorkerProcess],
    own_redis: RedisServer,
    probe: LedgerProbe,
    sizes: Sizes,
    tmp_path: Path,
    figures: dict[str, str],
) -> None:
    events = feed(606, skus=300, events=sizes.pick(6_000, 60_000), run=world.run)
    before, during = events[: len(events) // 2], events[len(events) // 2 :]
    await world.create_topics()
    worker = spawn(workers, world, tmp_path)
    async with Producer(world) as producer:
        await producer.events(before)
        await eventually(lambda: status(worker), lambda s: s.processed >= len(before))

        own_redis.kill()
        down = time.monotonic()
        producing = asyncio.create_task(produce_paced(producer, during, seconds=OUTAGE_S / 3))
        for n in range(BAD):  # malformed records in batches that are retried while Redis is down
            await producer.raw("inventory.picks", b'{"not": "an event", "n": %d}' % n, b"SKU-X")
        code = await eventually(lambda: readyz(worker), lambda code: code == 503, timeout=15)
        not_ready_s = time.monotonic() - down
        await producing
    assert code == 503
    await asyncio.sleep(2)  # commits of batches applied before the outage land
    committed = await committed_total(world)
    assert await metric(worker, "stockline_ready") == 0
    await asyncio.sleep(max(0.0, down + OUTAGE_S - time.monotonic()))
    errors = await metric(worker, "stockline_redis_errors_total")
    lag = (await status(worker)).lag
    assert await committed_total(world) == committed, "offsets committed while Redis was down"
    assert worker.proc is not None
    assert worker.proc.poll() is None, "the worker exited while Redis was down"

    await asyncio.to_thread(own_redis.start)
    back = time.monotonic()
    assert await eventually(lambda: readyz(worker), lambda code: code == 200) == 200
    ready_again_s = time.monotonic() - back
    expected = reference_fold(events)
    skus = sorted(expected)
    got = await eventually(lambda: probe.ledger(skus), lambda g: g == expected, timeout=60)
    seen = seen_report(await probe.seen(skus), events)

    name = f"6 redis outage ({OUTAGE_S:.0f} s, {len(events):,} events)"
    figures[f"{name}: failed attempts while down (backoff, max 5 s)"] = f"{errors:.0f}"
    figures[f"{name}: lag at the end of the outage"] = str(lag)
    figures[f"{name}: down to /readyz 503 / back to 200 (s)"] = (
        f"{not_ready_s:.1f} / {ready_again_s:.1f}"
    )
    figures[f"{name}: divergent ledger cells, events missing"] = (
        f"{divergent_cells(got, expected)}, {seen.missing}"
    )
    # each malformed record reached the DLQ once, however often its batch was retried
    dead = await read_topic(world, "inventory.dlq", expect=BAD + 1, timeout=5)
    figures[f"{name}: DLQ records for {BAD} malformed messages"] = str(len(dead))
    assert len(dead) == BAD
    assert 3 <= errors <= OUTAGE_S, "no backoff: the worker spun on a dead Redis"
    assert lag > 0
    assert await metric(worker, "stockline_ready") == 1
    assert divergent_cells(got, expected) == 0
    assert (seen.missing, seen.unexpected) == (0, 0)
