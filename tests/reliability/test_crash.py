"""Issue #7.1: workers killed with kill -9 every 10-30 s and redis-server killed once while a
producer streams; the ledger ends equal to the reference fold, nothing applied twice or lost.

Short (CI): 20,000 events over about 40 s, a kill -9 every 8-12 s (at least 2 worker kills)
and one kill -9 of redis-server. `--soak`: 2,000,000 events over about 10 min, a kill every
10-30 s. Workers use a 6 s session timeout (the minimum the broker allows) so a dead one's
partitions move sooner; Redis is the test's own (AOF on, fsync everysec).

The world has a network of static policies (issue #17): after the kills, the signal topics
keep the review rule, an id repeats only with the same content, and every (node, sku) the
reference leaves at or below its reorder point has signals bringing it to order_up_to
(`checks.judge_signals`). A kill between publishing a batch's signals and recording its
progress can republish an id with other content (`checks.REPLAY_CONFLICT`): the test then
ends as xfail, once every other check held.
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import Stack
from tests.integration.conftest import spawn
from tests.integration.feed import feed
from tests.integration.harness import Producer, WorkerProcess, World, eventually
from tests.reliability.checks import (
    LANES,
    NO_SWEEP,
    REPLAY_CONFLICT,
    SIGNAL_KINDS,
    Ledger,
    LedgerProbe,
    Lifetimes,
    MinMax,
    SignalNetwork,
    WorkerStatus,
    divergent_cells,
    produce_paced,
    seen_report,
    settled_atp,
    settled_signals,
    status,
)
from tests.reliability.conftest import Sizes, TunedWorld
from tests.reliability.servers import RedisServer
from tests.reliability.stories import on_one_utc_day
from tests.unit.domain.reference import reference_fold

pytestmark = [pytest.mark.kafka, pytest.mark.redis, pytest.mark.reliability]

NETWORK = SignalNetwork(
    MinMax(reorder_point=60, order_up_to=150, case_pack=6, moq=20, lead_time_days=7), LANES
)


@pytest.fixture
def world(stack: Stack, own_redis: RedisServer, tmp_path: Path) -> World:
    return TunedWorld(
        bootstrap=stack.kafka_bootstrap,
        redis_url=own_redis.url,
        network_file=NETWORK.write(tmp_path),
        overrides={"session_timeout_s": 6} | NO_SWEEP,
    )


@dataclass
class Chaos:
    """Kills the current worker (and once Redis) on a schedule, timing each recovery."""

    world: World
    workers: list[WorkerProcess]
    log_dir: Path
    redis: RedisServer
    interval: tuple[float, float]
    rng: random.Random = field(default_factory=lambda: random.Random(1))
    lifetimes: Lifetimes = field(default_factory=Lifetimes)
    worker_recoveries: list[float] = field(default_factory=list)
    redis_recoveries: list[float] = field(default_factory=list)
    kills_mid_stream: int = 0
    """Kills (worker or Redis) made while events were still being produced."""

    @property
    def worker(self) -> WorkerProcess:
        return self.workers[-1]

    async def run(self, producing: asyncio.Task[float], min_worker_kills: int) -> None:
        """Kill every `interval` while producing, and until the minimum kills are done."""
        while not producing.done() or len(self.worker_recoveries) < min_worker_kills:
            await asyncio.wait([producing], timeout=self.rng.uniform(*self.interval))
            if self.worker_recoveries and not self.redis_recoveries:
                await self.kill_redis(mid_stream=not producing.done())
            else:
                await self.kill_worker(mid_stream=not producing.done())
        if not self.redis_recoveries:
            await self.kill_redis(mid_stream=False)

    async def kill_worker(self, *, mid_stream: bool) -> None:
        await self.lifetimes.scrape(self.worker)
        victim = self.worker
        victim.kill()
        killed = time.monotonic()
        assert victim.proc is not None
        assert victim.proc.returncode == -signal.SIGKILL, "the worker was not alive to be killed"
        self.kills_mid_stream += mid_stream
        spawn(self.workers, self.world, self.log_dir)
        partitions = len(self.world.settings.input_topics) * self.world.partitions
        got = await eventually(lambda: status(self.worker), lambda s: s.partitions == partitions)
        assert got.partitions == partitions, self.worker.log_tail()
        self.worker_recoveries.append(time.monotonic() - killed)

    async def kill_redis(self, *, mid_stream: bool) -> None:
        before = (await status(self.worker)).processed
        self.redis.kill()
        killed = time.monotonic()
        assert self.redis.proc is not None
        assert self.redis.proc.returncode == -signal.SIGKILL, "redis-server was not alive"
        self.kills_mid_stream += mid_stream
        await asyncio.sleep(1)
        await asyncio.to_thread(self.redis.start)

        def progressed(s: WorkerStatus) -> bool:
            # a scrape that failed reports lag 0 too: only an answering worker that owns
            # its partitions counts as caught up
            return s.up and (s.processed > before or (s.partitions > 0 and s.lag == 0))

        got = await eventually(lambda: status(self.worker), progressed)
        assert progressed(got), self.worker.log_tail()
        self.redis_recoveries.append(time.monotonic() - killed)


async def converged(probe: LedgerProbe, expected: Ledger, timeout: float) -> Ledger:
    skus = sorted(expected)
    return await eventually(
        lambda: probe.ledger(skus), lambda got: got == expected, timeout=timeout
    )


async def test_kill_9_of_workers_and_redis_during_a_stream_loses_and_doubles_nothing(
    world: World,
    workers: list[WorkerProcess],
    own_redis: RedisServer,
    probe: LedgerProbe,
    sizes: Sizes,
    tmp_path: Path,
    figures: dict[str, str],
) -> None:
    n_events = sizes.pick(20_000, 2_000_000)
    (events,) = on_one_utc_day(
        feed(101, skus=sizes.pick(500, 20_000), events=n_events, run=world.run)
    )
    expected = reference_fold(events)
    await world.create_topics()
    spawn(workers, world, tmp_path)
    chaos = Chaos(world, workers, tmp_path, own_redis, sizes.pick((8, 12), (10, 30)))

    async with Producer(world) as producer:
        seconds = sizes.pick(40, 600)
        producing = asyncio.create_task(produce_paced(producer, events, seconds=seconds))
        await chaos.run(producing, min_worker_kills=2)
        await producing
    assert chaos.kills_mid_stream >= 2, "the kills did not come while events were flowing"
    drain_started = time.monotonic()
    got = await converged(probe, expected, timeout=sizes.pick(120, 900))
    drain_s = time.monotonic() - drain_started

    await chaos.lifetimes.scrape(chaos.worker)
    applied = chaos.lifetimes.total()["applied"]
    seen = seen_report(await probe.seen(sorted(expected)), events)
    divergent = divergent_cells(got, expected)
    kills = len(chaos.worker_recoveries)
    prefix = f"1 crash ({n_events:,} events, {kills} worker kill -9s, 1 redis kill -9)"
    figures[f"{prefix}: kills while events were being produced"] = str(chaos.kills_mid_stream)
    figures[f"{prefix}: divergent ledger cells"] = str(divergent)
    figures[f"{prefix}: events applied twice (metrics, lower bound)"] = str(
        max(0, applied - len(events))
    )
    figures[f"{prefix}: events missing (seen sets)"] = str(seen.missing)
    figures[f"{prefix}: worker recovery, kill -9 to all partitions owned (max s)"] = (
        f"{max(chaos.worker_recoveries):.1f}"
    )
    figures[f"{prefix}: redis recovery, kill -9 to progress again (s)"] = (
        f"{chaos.redis_recoveries[0]:.1f}"
    )
    figures[f"{prefix}: drain after the producer finished (s)"] = f"{drain_s:.1f}"
    atp = await settled_atp(world, probe, expected)
    figures[f"{prefix}: divergent ATP cells, keys whose last record is not the newest"] = (
        f"{atp.divergent}, {atp.regressed}"
    )
    signals = await settled_signals(world, NETWORK, events)
    counted_signals = chaos.lifetimes.signals_total()
    figures[f"{prefix}: signals (reorder, rebalance), records, short (node, sku), faults"] = (
        f"{signals.distinct['reorder']}, {signals.distinct['rebalance']}, "
        f"{signals.records.total()}, {signals.short}, {signals.faults() or 'none'}"
    )
    assert divergent == 0, chaos.worker.log_tail()
    assert (seen.missing, seen.unexpected) == (0, 0)
    assert (atp.divergent, atp.regressed, atp.malformed, atp.unpublished) == (0, 0, 0, 0), (
        atp.examples
    )
    assert applied <= len(events), "the workers' counters add up to more applies than events"
    assert signals.faults(but={"conflicting"}) == {}, signals.examples
    assert signals.short > 0
    assert min(signals.distinct[kind] for kind in SIGNAL_KINDS) > 0
    # A kill -9 loses what a worker counted since its last scrape, and a replayed batch
    # publishes (and counts) its signals again, so neither equality with the topics holds
    # here: the counters only bound the records (a signal is counted once it is acked).
    assert all(counted_signals[kind] <= signals.records[kind] for kind in SIGNAL_KINDS), (
        counted_signals,
        signals.records,
    )
    if signals.conflicting:  # a kill -9 fell between publishing and recording progress
        pytest.xfail(f"{signals.conflicting} ids: {REPLAY_CONFLICT}")
