"""`stockline topics`: creates every topic once, with one partition count, and says so."""

from __future__ import annotations

import subprocess
import sys

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.integration.harness import World, free_port

pytestmark = pytest.mark.kafka


def run_topics(world: World) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stockline.cli", "topics"],
        env=world.env(free_port()),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def partition_counts(world: World) -> dict[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=world.bootstrap)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(world.run)]
        return {d["topic"]: len(d["partitions"]) for d in await admin.describe_topics(names)}
    finally:
        await admin.close()


async def test_creates_every_topic_with_one_partition_count_and_is_idempotent(world: World) -> None:
    first = run_topics(world)
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("created") == 10

    counts = await partition_counts(world)
    settings = world.settings
    assert set(counts) == set(settings.input_topics) | set(settings.output_topics)
    assert set(counts.values()) == {world.partitions}

    again = run_topics(world)
    assert again.returncode == 0, again.stderr
    assert "created" not in again.stdout
    assert again.stdout.count("present") == 10


async def test_refuses_input_topics_whose_partition_counts_differ(world: World) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=world.bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(world.topic("inventory.picks"), 1, 1)])
    await admin.close()

    result = run_topics(world)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "must all have 3 partitions" in result.stderr
    assert world.topic("inventory.picks") in result.stderr
