"""The ledger step alone: decode, apply in Redis, render the ATP records, without a broker.

    .venv/bin/python deploy/bench/ledger_bench.py [--events 100000] [--batch 2000] [--repeat 3]

Feeds `stockline bench`'s workload (10,000 SKUs x 20 nodes by default) through the worker's
own `LedgerPipeline` and `RedisLedgerStore` on the configured Redis (REDIS_URL), in batches
of `--batch` records spread over six partitions as Kafka would deliver them; what would be
published is rendered and dropped. Per run it prints the worker-side CPU per event (this
process: decode, encode the calls, read the replies, render the records), Redis CPU per
event (INFO cpu) and the commands per event (INFO commandstats). Each run uses a key prefix
of its own and deletes its keys afterwards. Changes to the apply script or the worker's
Python path can be compared here run against run, without the broker's and the fetcher's
noise; `stockline bench` remains the figure users compare.
A measurement, not a test: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
import zlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from api_bench import clean

from stockline import bootstrap
from stockline.adapters.clients import redis_client
from stockline.adapters.redis.store import RedisLedgerStore
from stockline.bench import redis_stats
from stockline.bench.workload import Workload
from stockline.service_layer.ports import DeadLetter, RawRecord
from stockline.service_layer.process_batch import LedgerPipeline
from stockline.settings import Settings

PARTITIONS = 6


class DiscardingPublisher:
    """Counts what would be published; sends nothing."""

    def __init__(self) -> None:
        self.records = 0

    async def publish_atp(
        self, nodes: Sequence[tuple[str, str, bytes]], skus: Sequence[tuple[str, bytes]]
    ) -> None:
        self.records += len(nodes) + len(skus)

    async def dead_letter(self, records: Sequence[DeadLetter]) -> None:
        raise SystemExit(f"ledger_bench: {len(records)} workload events were rejected")

    async def publish_signals(
        self, reorder: Sequence[tuple[str, bytes]], rebalance: Sequence[tuple[str, bytes]]
    ) -> None:
        self.records += len(reorder) + len(rebalance)


@dataclass(frozen=True)
class Run:
    events: int
    seconds: float
    worker_us: float
    redis_us: float
    commands: float
    calls: float
    records: int
    by_command: dict[str, float]

    def line(self) -> str:
        return (
            f"{self.events / self.seconds:9,.0f} events/s  worker {self.worker_us:5.1f} µs/event"
            f"  Redis {self.redis_us:5.1f} µs/event  {self.commands:.2f} commands"
            f" ({self.calls:.3f} script calls) per event  {self.records:,} records\n"
            + "        "
            + ", ".join(f"{k} {v:.2f}" for k, v in self.by_command.items())
        )


def records(events: int, skus: int, nodes: int, run: str) -> list[RawRecord]:
    workload = Workload(skus=skus, nodes=nodes, seed=7, run=run)
    start_us = time.time_ns() // 1000 - 3_600_000_000
    offsets: dict[tuple[str, int], int] = defaultdict(int)
    out = []
    for m in workload.messages(events, start_us):
        partition = zlib.crc32(m.key) % PARTITIONS
        offset = offsets[m.topic, partition]
        offsets[m.topic, partition] = offset + 1
        out.append(RawRecord(m.topic, partition, offset, m.key, m.value))
    return out


async def one_run(args: argparse.Namespace) -> Run:
    run = uuid.uuid4().hex[:8]
    settings = Settings(key_prefix=f"ledgerbench-{run}")  # type: ignore[call-arg]
    batch = records(args.events, args.skus, args.nodes, run)
    redis = redis_client(settings)
    store = RedisLedgerStore(
        redis,
        keys=bootstrap.keys(settings),
        retention_us=settings.retention_us,
        demand_days=2 * settings.demand_horizon_days,
    )
    publisher = DiscardingPublisher()
    pipeline = LedgerPipeline(store, publisher, settings.retention_us)
    info = redis_client(settings)
    try:
        await pipeline.process(batch[:1])  # the script loaded, the connections made
        before = redis_stats.sample(await info.info("all"))
        cpu, wall = time.process_time(), time.perf_counter()
        done = 1
        for start in range(1, len(batch), args.batch):
            await pipeline.process(batch[start : start + args.batch])
            done = min(len(batch), start + args.batch)
            if sys.stderr.isatty():
                print(f"\r{done:,}/{len(batch):,} events", end="", file=sys.stderr, flush=True)
        seconds, worker_s = time.perf_counter() - wall, time.process_time() - cpu
        after = redis_stats.sample(await info.info("all"))
        if sys.stderr.isatty():
            print(file=sys.stderr)
    finally:
        await redis.aclose()
        await info.aclose()
        await clean(settings.redis_url, bootstrap.keys(settings))
    events = done - 1
    calls = {k: after.calls.get(k, 0) - before.calls.get(k, 0) for k in after.calls}
    scripts = sum(n for k, n in calls.items() if k in redis_stats.SCRIPT_CALLS)
    others = sum(n for k, n in calls.items() if k not in redis_stats.SCRIPT_CALLS | {"info"})
    return Run(
        events=events,
        seconds=seconds,
        worker_us=worker_s * 1e6 / events,
        redis_us=(after.cpu_s - before.cpu_s) * 1e6 / events,
        commands=others / events,
        calls=scripts / events,
        records=publisher.records,
        by_command={
            k: n / events
            for k, n in sorted(calls.items(), key=lambda kv: -kv[1])
            if n and k != "info"
        },
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--skus", type=int, default=10_000)
    parser.add_argument("--nodes", type=int, default=20)
    parser.add_argument("--batch", type=int, default=2000, help="records per batch")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    bootstrap.tune_gc()  # as the worker does
    runs = []
    for k in range(args.repeat):
        runs.append(await one_run(args))
        print(f"run {k + 1}: {runs[-1].line()}", flush=True)
    best = min(runs, key=lambda r: r.worker_us + r.redis_us)
    print(f"best:  {best.line()}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
