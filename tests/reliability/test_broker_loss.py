"""Issue #7.5: a 3-broker KRaft cluster (replication factor 3, min.insync.replicas 2), an
idempotent acks=all producer, and one broker killed with kill -9 mid-stream (the one that
coordinates the workers' group): every event the producer got an acknowledgement for ends
in the ledger, which equals the reference fold.

The cluster is the test's own (tests/reliability/cluster.py, free ports); the shared broker
is not touched. Short (CI): 10,000 events over about 20 s; `--soak`: 200,000 over 5 min.
A chunk whose send fails is sent again, as a publisher would; duplicates change nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from stockline.domain.events import Event
from tests.conftest import Stack
from tests.integration.conftest import spawn
from tests.integration.feed import feed
from tests.integration.harness import Producer, WorkerProcess, World, eventually
from tests.reliability.checks import LedgerProbe, divergent_cells, seen_report, settled_atp
from tests.reliability.cluster import KafkaCluster
from tests.reliability.conftest import Sizes, TunedWorld
from tests.unit.domain.reference import reference_fold

pytestmark = [pytest.mark.kafka, pytest.mark.redis, pytest.mark.reliability]


@pytest.fixture
def world(stack: Stack, cluster: KafkaCluster) -> World:
    return TunedWorld(
        bootstrap=cluster.bootstrap,
        redis_url=stack.redis_url,
        overrides={"replication_factor": 3},
    )


@dataclass
class Acked:
    events: list[Event]
    failed_sends: int = 0


async def produce_acked(producer: Producer, events: Sequence[Event], seconds: float) -> Acked:
    """Send in chunks over about `seconds`, resending a chunk until the cluster acks it."""
    acked = Acked([])
    chunk, started = 100, time.monotonic()
    for n in range(0, len(events), chunk):
        while True:
            try:
                await producer.events(events[n : n + chunk])
                break
            except KafkaError:
                acked.failed_sends += 1
                await asyncio.sleep(0.5)
        acked.events += events[n : n + chunk]
        ahead = started + seconds * (n + chunk) / len(events) - time.monotonic()
        await asyncio.sleep(max(0.0, ahead))
    return acked


async def coordinator(world: World) -> int:
    """The broker coordinating the workers' group (-1 while the cluster does not answer)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=world.bootstrap, request_timeout_ms=5000)
    try:
        await admin.start()
        return int(await admin.find_coordinator(world.settings.consumer_group))
    except KafkaError:
        return -1
    finally:
        await admin.close()


async def leaders(world: World) -> dict[tuple[str, int], int]:
    """The leader broker of every input partition (-1 while a partition has none); empty
    while the cluster does not answer (a request sent to the dead broker fails)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=world.bootstrap, request_timeout_ms=5000)
    try:
        await admin.start()
        described = await admin.describe_topics(list(world.settings.input_topics))
    except KafkaError:
        return {}
    finally:
        await admin.close()
    return {
        (t["topic"], p["partition"]): int(p["leader"]) for t in described for p in t["partitions"]
    }


def moved_away(
    led: list[tuple[str, int]], victim: int
) -> Callable[[dict[tuple[str, int], int]], bool]:
    return lambda now: all(now.get(tp, -1) not in (victim, -1) for tp in led)


async def test_killing_one_of_three_brokers_loses_nothing_acknowledged(
    world: World,
    cluster: KafkaCluster,
    workers: list[WorkerProcess],
    probe: LedgerProbe,
    sizes: Sizes,
    tmp_path: Path,
    figures: dict[str, str],
) -> None:
    events = feed(
        505, skus=sizes.pick(300, 5_000), events=sizes.pick(10_000, 200_000), run=world.run
    )
    await world.create_topics()
    worker = spawn(workers, world, tmp_path)
    seconds = sizes.pick(20, 300)
    async with Producer(world) as producer:
        producing = asyncio.create_task(produce_acked(producer, events, seconds))
        await asyncio.sleep(seconds / 3)
        victim = await coordinator(world)
        led = [tp for tp, leader in (await leaders(world)).items() if leader == victim]
        assert not producing.done(), "the kill would not come mid-stream"
        cluster.kill(victim)
        # the fault happened and mattered: the victim is dead, it led partitions and
        # coordinated the group, and both moved to the brokers left
        assert not cluster.brokers[victim - 1].alive()
        assert led, f"broker {victim} led no input partition"
        moved = await eventually(lambda: leaders(world), moved_away(led, victim), timeout=60)
        assert moved_away(led, victim)(moved), f"{moved}\n{cluster.log_tail()}"
        new_coordinator = await eventually(
            lambda: coordinator(world), lambda c: c not in (victim, -1), timeout=60
        )
        assert new_coordinator not in (victim, -1)
        acked = await producing

    expected = reference_fold(acked.events)
    skus = sorted(expected)
    got = await eventually(lambda: probe.ledger(skus), lambda g: g == expected, timeout=120)
    seen = seen_report(await probe.seen(skus), acked.events)
    name = f"5 broker loss (3 brokers, RF 3, min ISR 2, {len(acked.events):,} acked events)"
    figures[f"{name}: acknowledged events missing from the ledger"] = str(seen.missing)
    figures[f"{name}: divergent ledger cells"] = str(divergent_cells(got, expected))
    figures[f"{name}: sends that failed and were retried"] = str(acked.failed_sends)
    figures[f"{name}: partitions whose leader was killed, moved"] = f"{len(led)}, {len(led)}"
    atp = await settled_atp(world, probe, expected, timeout=60)
    figures[f"{name}: divergent ATP cells, SKUs whose last change is not on the topic"] = (
        f"{atp.divergent}, {atp.unpublished}"
    )
    assert len(acked.events) == len(events)
    assert divergent_cells(got, expected) == 0, worker.log_tail() + cluster.log_tail()
    assert (seen.missing, seen.unexpected) == (0, 0)
    assert (atp.divergent, atp.regressed, atp.malformed, atp.unpublished) == (0, 0, 0, 0), (
        atp.examples
    )
