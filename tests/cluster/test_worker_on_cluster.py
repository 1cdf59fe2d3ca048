"""The end-to-end worker test on a Redis Cluster: a worker with `redis_mode=cluster` folds a
random feed over every event type into a ledger equal to the reference fold."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.conftest import spawn
from tests.integration.feed import feed
from tests.integration.harness import Producer, WorkerProcess, World, eventually
from tests.reliability.checks import LedgerProbe, divergent_cells, seen_report
from tests.unit.domain.reference import reference_fold

pytestmark = [pytest.mark.kafka, pytest.mark.redis_cluster]


async def test_a_worker_on_a_cluster_folds_a_feed_like_the_reference(
    world: World, workers: list[WorkerProcess], probe: LedgerProbe, tmp_path: Path
) -> None:
    events = feed(4242, skus=300, events=3_000, run=world.run)
    await world.create_topics()
    spawn(workers, world, tmp_path)
    async with Producer(world) as producer:
        await producer.events(events)
    expected = reference_fold(events)
    skus = sorted(expected)
    got = await eventually(lambda: probe.ledger(skus), lambda g: g == expected, timeout=60)
    assert divergent_cells(got, expected) == 0, workers[0].log_tail()
    assert seen_report(await probe.seen(skus), events).missing == 0
    # the SKUs really are spread over the three primaries
    nodes = {probe.redis.get_node_from_key(probe.keys.ledger(s)).name for s in skus}  # type: ignore[union-attr]
    assert len(nodes) == 3
