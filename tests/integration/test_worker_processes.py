"""`stockline worker --processes 2`: two workers of one group on one machine, stopped together."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import IO

import pytest
from prometheus_client.parser import text_string_to_metric_families

from stockline.adapters.redis.store import RedisLedgerStore
from stockline.domain.events import Receipt
from tests.integration.harness import Producer, World, eventually, free_port

pytestmark = [pytest.mark.kafka, pytest.mark.redis]


def lag_partitions(port: int) -> set[tuple[str, str]]:
    """The (topic, partition) pairs a worker measures lag for: the ones it was assigned."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            text = response.read().decode()
    except OSError:
        return set()
    return {
        (sample.labels["topic"], sample.labels["partition"])
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "stockline_consumer_lag"
    }


def start_workers(world: World, port: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "stockline.cli", "worker", "--processes", "2"],
        env=world.env(port),
        stdout=log,
        stderr=subprocess.STDOUT,
    )


async def test_two_processes_share_the_partitions_and_stop_together(
    world: World, ledger: RedisLedgerStore, tmp_path: Path
) -> None:
    world.partitions = 4
    await world.create_topics()
    port = free_port()
    log = (tmp_path / "workers.log").open("ab")
    parent = start_workers(world, port, log)
    try:
        every = {(t, str(p)) for t in world.settings.input_topics for p in range(4)}

        def shared(pair: tuple[set[tuple[str, str]], set[tuple[str, str]]]) -> bool:
            first, second = pair
            return bool(first) and bool(second) and not first & second and first | second == every

        owned = await eventually(
            lambda: asyncio.to_thread(lambda: (lag_partitions(port), lag_partitions(port + 1))),
            shared,
        )
        # each child serves its own /metrics and owns some partitions, none of them twice
        assert shared(owned), owned

        skus = [f"SKU-{n}" for n in range(12)]
        events = [Receipt(f"r-{s}", 1_795_000_000_000_000, "it", "DC-1", s, qty=3) for s in skus]
        async with Producer(world) as producer:
            await producer.events(events)

        async def stocked() -> list[int]:
            snapshots = [await ledger.snapshot(s) for s in skus]
            return [s.nodes["DC-1"].on_hand if s else 0 for s in snapshots]

        assert await eventually(stocked, lambda got: got == [3] * 12) == [3] * 12
    finally:
        parent.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(parent.wait, 60)
        log.close()
    assert code == 0, (tmp_path / "workers.log").read_text(errors="replace")[-3000:]
    # the children are gone with the parent: nothing answers on their ports any more
    assert lag_partitions(port) == lag_partitions(port + 1) == set()
