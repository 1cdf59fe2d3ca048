"""Issue #12.5b/c: a third of the slots (5,461) move from one primary to another with
`redis-cli --cluster reshard` while a worker applies and the read API reads. Calls that
meet MOVED, ASK or TRYAGAIN are sent again; idempotency makes a re-run change nothing, so
the ledger must equal the reference fold with every event applied once."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.cluster.api_watch import watch_api
from tests.cluster.servers import RedisClusterServers
from tests.conftest import Stack
from tests.integration.conftest import spawn
from tests.integration.feed import feed
from tests.integration.harness import Producer, WorkerProcess, World, eventually
from tests.reliability.checks import LedgerProbe, divergent_cells, outcomes, seen_report
from tests.reliability.conftest import Sizes, TunedWorld
from tests.unit.domain.reference import reference_fold

pytestmark = [pytest.mark.kafka, pytest.mark.redis_cluster, pytest.mark.reliability]


@pytest.fixture
def world(stack: Stack, own_cluster: RedisClusterServers) -> World:
    return TunedWorld(
        bootstrap=stack.kafka_bootstrap,
        redis_url=own_cluster.url,
        overrides={"redis_mode": "cluster"},
    )


async def test_a_third_of_the_slots_resharded_mid_stream_diverges_nowhere(
    world: World,
    workers: list[WorkerProcess],
    own_cluster: RedisClusterServers,
    probe: LedgerProbe,
    sizes: Sizes,
    tmp_path: Path,
    figures: dict[str, str],
) -> None:
    total = sizes.pick(6_000, 60_000)
    events = feed(3434, skus=400, events=total, run=world.run)
    chunks = [events[i : i + 250] for i in range(0, total, 250)]
    source, target = own_cluster.primaries()[:2]
    await world.create_topics()
    worker = spawn(workers, world, tmp_path)
    skus = sorted({e.sku for e in events})
    stop = asyncio.Event()
    api = asyncio.create_task(watch_api(world.settings, skus, stop))
    before = own_cluster.errorstats()
    async with Producer(world) as producer:
        await producer.events([e for c in chunks[: len(chunks) // 4] for e in c])
        started = time.monotonic()
        moving = asyncio.create_task(asyncio.to_thread(own_cluster.reshard, source, target, 5461))
        for chunk in chunks[len(chunks) // 4 :]:
            await producer.events(chunk)
            await asyncio.sleep(0.1 if not moving.done() else 0)
        await moving
        seconds = time.monotonic() - started

    expected = reference_fold(events)
    got = await eventually(lambda: probe.ledger(skus), lambda g: g == expected, timeout=90)
    stop.set()
    watched = await api
    seen = seen_report(await probe.seen(skus), events)
    redirects = {
        k: v - before.get(k, 0) for k, v in own_cluster.errorstats().items() if k != "NOSCRIPT"
    }
    counted = await outcomes(worker)
    name = f"5b redis cluster 5,461 slots resharded mid-stream ({total:,} events)"
    figures[f"{name}: divergent ledger cells, events missing"] = (
        f"{divergent_cells(got, expected)}, {seen.missing}"
    )
    figures[f"{name}: reshard seconds, redirections answered"] = f"{seconds:.1f}, {redirects}"
    figures[f"{name}: applied, redelivered"] = f"{counted['applied']}, {counted['redelivered']}"
    figures[f"5c read API during the resharding: {watched.figure()}"] = str(watched.count(500))
    assert divergent_cells(got, expected) == 0, worker.log_tail()
    assert seen.missing == 0
    assert counted["applied"] == len(events)  # once each: no re-run applied anything twice
    assert watched.count(500) == 0  # every slot had a primary throughout
