"""`stockline rebuild`: wipe Redis, replay the topics, get the same ledger back."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
from redis.asyncio import Redis

from stockline.adapters.redis.store import RedisLedgerStore
from tests.integration.conftest import spawn
from tests.integration.feed import feed
from tests.integration.harness import Producer, WorkerProcess, World, free_port
from tests.integration.test_recovery import ledger_reaches, read_ledger
from tests.unit.domain.reference import reference_fold

pytestmark = [pytest.mark.kafka, pytest.mark.redis]


def run_rebuild(world: World, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stockline.cli", "rebuild", *args],
        env=world.env(free_port()),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


async def test_a_wiped_ledger_is_rebuilt_equal_from_the_topics(
    world: World, workers: list[WorkerProcess], ledger: RedisLedgerStore, tmp_path: Path
) -> None:
    events = feed(31, skus=30, events=3_000, run=world.run)
    expected = reference_fold(events)
    await world.create_topics()
    async with Producer(world) as producer:
        await producer.events(events)
    worker = spawn(workers, world, tmp_path)
    before = await ledger_reaches(ledger, expected)
    assert before == expected

    refused = run_rebuild(world, "--yes")  # the worker still runs: refused, nothing touched
    assert refused.returncode == 1
    assert "stop the workers" in refused.stderr
    assert await read_ledger(ledger, sorted(expected)) == expected
    worker.stop()

    redis = Redis.from_url(world.redis_url)
    async for key in redis.scan_iter(match=f"{world.settings.key_prefix}:*"):
        await redis.unlink(key)
    await redis.aclose()
    assert await read_ledger(ledger, sorted(expected)) == {}

    rebuilt = run_rebuild(world, "--yes")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert await read_ledger(ledger, sorted(expected)) == before
    assert f"records={len(events)}" in rebuilt.stdout


def test_rebuild_asks_for_yes_before_touching_anything(world: World) -> None:
    result = run_rebuild(world)
    assert result.returncode == 1
    assert "--yes" in result.stderr


async def test_a_rebuild_missing_an_input_topic_replaces_nothing(
    world: World, workers: list[WorkerProcess], ledger: RedisLedgerStore, tmp_path: Path
) -> None:
    """Replaying without a topic's events would swap in a ledger without them."""
    events = feed(32, skus=3, events=30, run=world.run)
    expected = reference_fold(events)
    await world.create_topics()
    async with Producer(world) as producer:
        await producer.events(events)
    spawn(workers, world, tmp_path)
    before = await ledger_reaches(ledger, expected)
    workers[0].stop()
    env = world.env(free_port())
    inputs = json.loads(env["STOCKLINE_INPUT_TOPICS"])
    env["STOCKLINE_INPUT_TOPICS"] = json.dumps([*inputs, world.topic("inventory.never")])
    refused = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "stockline.cli", "rebuild", "--yes"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert refused.returncode == 1
    assert world.topic("inventory.never") in refused.stderr
    assert "nothing was replaced" in refused.stderr
    assert await read_ledger(ledger, sorted(expected)) == before
