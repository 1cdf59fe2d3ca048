"""`stockline bench`: how fast one worker folds a backlog, against the consumer ceiling.

1. Produce N events (every type, many SKUs and nodes) into the input topics of a fresh
   namespace on the real broker.
2. Start one `stockline worker` process and time the backlog: sustained events/s applied.
3. On the same topics, time a bare aiokafka consume-and-discard loop: the ceiling, and the
   pipeline's ratio to it.
4. Offer new events at half the measured peak and time each from its send to the first
   `inventory.atp` snapshot of its SKU stamped no earlier (p50/p99).
5. Report Redis round trips per batch and the worker's RSS; write JSON and a PNG.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition
from tqdm import tqdm

from stockline.adapters.kafka.options import client_options
from stockline.adapters.kafka.topics import ensure_topics
from stockline.bench.latency import LatencyProbe
from stockline.bench.worker import BenchWorld, WorkerProcess
from stockline.bench.workload import Message, Workload
from stockline.settings import Settings


@dataclass
class BenchResult:
    events: int
    skus: int
    nodes: int
    partitions: int
    applied_per_s: float = 0.0
    bare_consumer_per_s: float = 0.0
    ratio_to_bare: float = 0.0
    redis_round_trips_per_batch: float = 0.0
    mean_batch: float = 0.0
    worker_rss_mib: float = 0.0
    worker_peak_rss_mib: float = 0.0
    latency_rate_per_s: float = 0.0
    latency_p50_ms: float = 0.0
    latency_p99_ms: float = 0.0
    latency_samples: int = 0
    progress: list[tuple[float, float]] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list, repr=False)


async def run_bench(
    settings: Settings, *, events: int, skus: int, nodes: int, latency_s: float, out: Path
) -> BenchResult:
    world = BenchWorld(settings)
    result = BenchResult(events, skus, nodes, settings.partitions)
    await ensure_topics(world.settings)
    workload = Workload(skus=skus, nodes=nodes, seed=7, run=world.run)
    await produce_backlog(world.settings, workload, events)
    worker = WorkerProcess(world, out).start()
    try:
        await measure_backlog(worker, events, result)
        result.bare_consumer_per_s = await bare_consumer_rate(world.settings, events)
        result.ratio_to_bare = result.applied_per_s / result.bare_consumer_per_s
        await measure_latency(world.settings, workload, result, latency_s)
        result.worker_rss_mib, result.worker_peak_rss_mib = worker.rss_mib()
        metrics = await worker.metrics()
        batches = metrics.value("stockline_batch_records_count")
        result.redis_round_trips_per_batch = (
            metrics.value("stockline_redis_round_trips_total") / batches
        )
        result.mean_batch = metrics.value("stockline_batch_records_sum") / batches
    finally:
        worker.stop()
        if result.applied_per_s:
            write_outputs(result, out)
            print(report(result), flush=True)
            print(f"written: {out / 'bench.json'}, {out / 'bench.png'}", flush=True)
        print("removing the run's Redis keys and topics...", file=sys.stderr, flush=True)
        await world.clean()
    return result


async def produce_backlog(settings: Settings, workload: Workload, events: int) -> None:
    start_us = time.time_ns() // 1000 - 3_600_000_000  # an hour ago, all within retention
    producer = _producer(settings)
    await producer.start()
    try:
        with tqdm(total=events, desc="produce backlog", unit="ev", file=sys.stderr) as bar:
            pending: list[Any] = []
            for message in workload.messages(events, start_us):
                pending.append(await _send(producer, settings, message))
                if len(pending) >= 20_000:
                    await asyncio.gather(*pending)
                    bar.update(len(pending))
                    pending = []
            await asyncio.gather(*pending)
            bar.update(len(pending))
    finally:
        await producer.stop()


async def measure_backlog(worker: WorkerProcess, events: int, result: BenchResult) -> None:
    """Time from the first to the last event consumed; the rate over that span."""
    first: float | None = None
    with tqdm(total=events, desc="worker applies", unit="ev", file=sys.stderr) as bar:
        done = 0.0
        while done < events:
            await asyncio.sleep(0.25)
            done = (await worker.metrics()).consumed()
            now = time.monotonic()
            if done and first is None:
                first = now
            if first is not None:
                result.progress.append((now - first, done))
            bar.update(int(done) - bar.n)
    assert first is not None
    result.applied_per_s = events / max(1e-9, time.monotonic() - first)


async def bare_consumer_rate(settings: Settings, events: int) -> float:
    """A consume-and-discard loop over the same topics: what Kafka alone gives."""
    consumer = AIOKafkaConsumer(
        **client_options(settings),
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    try:
        tps = [
            TopicPartition(t, p) for t in settings.input_topics for p in range(settings.partitions)
        ]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        got, started = 0, time.monotonic()
        while got < events:
            batch = await consumer.getmany(timeout_ms=1000, max_records=settings.batch_max)
            got += sum(len(messages) for messages in batch.values())
        return got / (time.monotonic() - started)
    finally:
        await consumer.stop()


async def measure_latency(
    settings: Settings, workload: Workload, result: BenchResult, seconds: float
) -> None:
    """Offer events at half the peak rate; time each until its SKU's next ATP snapshot."""
    rate = result.applied_per_s / 2
    probe = LatencyProbe(settings)
    await probe.start()
    producer = _producer(settings, linger_ms=1)
    await producer.start()
    try:
        await _offer(producer, settings, workload, probe, rate, seconds)
        await probe.drain(timeout=10)
    finally:
        await producer.stop()
        await probe.stop()
    result.latency_rate_per_s = rate
    result.latencies_ms = probe.latencies_ms()
    result.latency_samples = len(result.latencies_ms)
    result.latency_p50_ms, result.latency_p99_ms = probe.quantiles_ms(0.5, 0.99)


async def _offer(
    producer: AIOKafkaProducer,
    settings: Settings,
    workload: Workload,
    probe: LatencyProbe,
    rate: float,
    seconds: float,
) -> None:
    tick, started, sent = 0.01, time.monotonic(), 0
    total = int(rate * seconds)
    with tqdm(total=total, desc=f"offer at {rate:,.0f}/s", unit="ev", file=sys.stderr) as bar:
        while sent < total:
            due = min(total, int((time.monotonic() - started) * rate))
            for _ in range(due - sent):
                now_us = time.time_ns() // 1000
                message = workload.message(workload.next_kind(), now_us)
                probe.sent(message.key.decode(), now_us)
                await _send(producer, settings, message)
            bar.update(due - sent)
            sent = due
            await asyncio.sleep(tick)


def _producer(settings: Settings, linger_ms: int = 20) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        **client_options(settings),
        acks="all",
        linger_ms=linger_ms,
        max_batch_size=512 * 1024,
    )


async def _send(producer: AIOKafkaProducer, settings: Settings, message: Message) -> Any:
    topic = settings.input_topics[Workload.topic_index(message.topic)]
    return await producer.send(topic, message.value, key=message.key)


def write_outputs(result: BenchResult, out: Path) -> None:
    from stockline.bench.plot import plot

    out.mkdir(parents=True, exist_ok=True)
    summary = {k: v for k, v in asdict(result).items() if k != "latencies_ms"}
    (out / "bench.json").write_text(json.dumps(summary, indent=2) + "\n")
    plot(result.progress, result.latencies_ms, out / "bench.png")


def report(result: BenchResult) -> str:
    rows = [
        ("events", f"{result.events:,} over {result.skus:,} SKUs x {result.nodes} nodes"),
        ("sustained apply rate, one worker", f"{result.applied_per_s:,.0f} events/s"),
        ("bare aiokafka consume-and-discard", f"{result.bare_consumer_per_s:,.0f} events/s"),
        ("pipeline / bare consumer", f"{result.ratio_to_bare:.3f}"),
        ("mean batch", f"{result.mean_batch:,.0f} events"),
        ("Redis round trips per batch", f"{result.redis_round_trips_per_batch:.2f}"),
        ("event -> ATP at half peak", f"{result.latency_rate_per_s:,.0f} events/s offered"),
        ("  p50 / p99", f"{result.latency_p50_ms:.1f} ms / {result.latency_p99_ms:.1f} ms"),
        ("  samples", f"{result.latency_samples:,}"),
        (
            "worker RSS (now / peak)",
            f"{result.worker_rss_mib:.0f} / {result.worker_peak_rss_mib:.0f} MiB",
        ),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)
