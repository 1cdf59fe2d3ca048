"""`stockline topics`: creates every topic once, with one partition count, and says so."""

from __future__ import annotations

import subprocess
import sys

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

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


async def cleanup_policies(world: World, names: list[str]) -> dict[str, str]:
    """Each topic's `cleanup.policy` as the broker reports it."""
    admin = AIOKafkaAdminClient(bootstrap_servers=world.bootstrap)
    await admin.start()
    try:
        wanted = [
            ConfigResource(ConfigResourceType.TOPIC, n, {"cleanup.policy": None}) for n in names
        ]
        found: dict[str, str] = {}
        for response in await admin.describe_configs(wanted):
            for resource in response.to_object()["resources"]:
                assert resource["error_code"] == 0, resource
                for entry in resource["config_entries"]:
                    found[resource["resource_name"]] = entry["config_value"]
        return found
    finally:
        await admin.close()


async def test_creates_every_topic_with_one_partition_count_and_is_idempotent(world: World) -> None:
    settings = world.settings
    every = [*settings.input_topics, *settings.output_topics]
    assert len(every) == 12  # seven inputs; both ATP topics, the DLQ, the two signal topics
    first = run_topics(world)
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("created") == len(every)

    counts = await partition_counts(world)
    assert set(counts) == set(every)
    assert set(counts.values()) == {world.partitions}
    # storefronts rebuild ATP from the latest record per key: both ATP topics are compacted
    compacted = {settings.atp_topic, settings.atp_nodes_topic}
    policies = await cleanup_policies(world, every)
    assert {t for t, policy in policies.items() if policy == "compact"} == compacted
    assert set(policies) == set(every)

    again = run_topics(world)
    assert again.returncode == 0, again.stderr
    assert "created" not in again.stdout
    assert again.stdout.count("present") == len(every)


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
