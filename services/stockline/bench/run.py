"""`stockline bench`: what one worker does with a backlog, against what users compare it with.

1. Produce N events (every type, many SKUs and nodes) into the input topics of a fresh
   namespace on the real broker.
2. Start one `stockline worker` and time the backlog: events/s applied, and per event the
   CPU of the worker's processes, of Redis and of the broker, and Redis commands, all as
   differences over that window.
3. On the same topics, once the worker is done: the naive consumer and the bare
   consume-and-discard loop (naive.py), each timed alone.
4. Offer new events at half the applied rate: a warm-up, then a measured window where each
   event is timed from its send to the first ATP record of its SKU stamped no earlier.
5. Report RSS, Redis forks and AOF rewrites, and the worker's full garbage collections, in
   the run and in the latency window; write `bench.json` and `bench.png`.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from stockline.adapters.clients import kafka_producer
from stockline.adapters.kafka.topics import ensure_topics
from stockline.bench import redis_stats
from stockline.bench.latency import LatencyProbe
from stockline.bench.naive import bare_consumer_rate, naive_consumer_rate
from stockline.bench.progress import progress
from stockline.bench.resources import Sample, Sampler, usage
from stockline.bench.result import BenchResult, report, write_json
from stockline.bench.worker import BenchWorld, WorkerProcess
from stockline.bench.workload import Message, Workload
from stockline.settings import Settings

_POLL_S = 0.25


async def run_bench(
    settings: Settings,
    *,
    events: int,
    skus: int,
    nodes: int,
    warmup_s: float,
    latency_s: float,
    out: Path,
    processes: int = 1,
) -> BenchResult:
    world = BenchWorld(settings)
    result = BenchResult(events, skus, nodes, settings.partitions)
    await ensure_topics(world.settings)
    await world.create_naive_topic()
    sampler = Sampler(world.settings)
    result.redis_aof_config = await sampler.aof_config()
    run_start = await sampler.redis_sample()
    workload = Workload(skus=skus, nodes=nodes, seed=7, run=world.run)
    await produce_backlog(world.settings, workload, events)
    worker = WorkerProcess(world, out, processes=processes).start()
    complete = False
    try:
        await measure_backlog(worker, sampler, events, result)
        await measure_baselines(world, events, result)
        await measure_latency(
            world.settings, workload, worker, sampler, result, warmup_s, latency_s
        )
        await record_worker(worker, result)
        run = redis_stats.window(run_start, await sampler.redis_sample())
        result.redis_aof_rewrites, result.redis_forks = run.aof_rewrites, run.forks
        result.redis_delayed_fsyncs = run.delayed_fsyncs
        complete = True
    finally:
        worker.stop()
        await sampler.close()
        if complete:
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
        with progress(events, "produce backlog") as bar:
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


async def measure_backlog(
    worker: WorkerProcess, sampler: Sampler, events: int, result: BenchResult
) -> None:
    """The window runs from the first scrape that shows events consumed to the one that
    shows them all; rate and costs are over the events consumed in between."""
    assert worker.tree is not None
    first: Sample | None = None
    with progress(events, "worker applies") as bar:
        done = 0.0
        while done < events:
            await asyncio.sleep(_POLL_S if first else _POLL_S / 5)
            done = (await worker.metrics()).consumed()
            if worker.exited():
                raise SystemExit(f"stockline bench: the worker exited; see {worker.log_path}")
            if done and first is None:
                first = await sampler.take(worker.tree, done)
            if first is not None:
                result.progress.append((time.monotonic() - first.at, done))
            bar.update(int(done) - int(bar.n))
        assert first is not None
        last = await sampler.take(worker.tree, done)
    if last.events <= first.events:
        raise SystemExit("stockline bench: the backlog was applied too fast to time; more --events")
    result.record_backlog(usage(first, last), worker.processes())


async def measure_baselines(world: BenchWorld, events: int, result: BenchResult) -> None:
    """The naive consumer, then the bare one, alone on the machine's cores but the idle
    worker; the naive one's CPU is this process's own."""
    cpu = time.process_time()
    naive = await naive_consumer_rate(
        world.settings,
        group=world.naive_group,
        out_topic=world.naive_topic,
        events=events,
        tick=lambda s, n: result.naive_progress.append((s, n)),
    )
    result.naive_cpu_us_per_event = (time.process_time() - cpu) * 1e6 / events
    bare = await bare_consumer_rate(
        world.settings, events, tick=lambda s, n: result.bare_progress.append((s, n))
    )
    result.record_baselines(naive, bare)


async def measure_latency(
    settings: Settings,
    workload: Workload,
    worker: WorkerProcess,
    sampler: Sampler,
    result: BenchResult,
    warmup_s: float,
    seconds: float,
) -> None:
    """Offer events at half the applied rate; after `warmup_s`, time each for `seconds`
    until its SKU's next ATP record."""
    rate = result.applied_per_s / 2
    probe = LatencyProbe(settings, measure_from_us=2**62)  # nothing counts in the warm-up
    await probe.start()
    producer = _producer(settings, linger_ms=1)
    await producer.start()
    try:
        await _offer(producer, settings, workload, probe, rate, warmup_s, "warm-up")
        before, probe.measure_from_us = await sampler.redis_sample(), time.time_ns() // 1000
        await _offer(producer, settings, workload, probe, rate, seconds, "measure")
        await probe.drain(timeout=10)
        window = redis_stats.window(before, await sampler.redis_sample())
    finally:
        await producer.stop()
        await probe.stop()
    result.latency_rate_per_s, result.latency_warmup_s, result.latency_window_s = (
        rate,
        warmup_s,
        seconds,
    )
    result.latency_window_aof_rewrites, result.latency_window_forks = (
        window.aof_rewrites,
        window.forks,
    )
    result.latencies_ms = probe.latencies_ms()
    result.latency_samples = len(result.latencies_ms)
    result.latency_p50_ms, result.latency_p99_ms = probe.quantiles_ms(0.5, 0.99)
    result.record_gc(worker.full_gc_pauses(), (probe.measure_from_us, time.time_ns() // 1000))


async def record_worker(worker: WorkerProcess, result: BenchResult) -> None:
    result.worker_rss_mib, result.worker_peak_rss_mib = worker.rss_mib()
    metrics = await worker.metrics()
    batches = metrics.value("stockline_batch_records_count")
    result.redis_round_trips_per_batch = (
        metrics.value("stockline_redis_round_trips_total") / batches
    )
    result.mean_batch = metrics.value("stockline_batch_records_sum") / batches


async def _offer(
    producer: AIOKafkaProducer,
    settings: Settings,
    workload: Workload,
    probe: LatencyProbe,
    rate: float,
    seconds: float,
    phase: str,
) -> None:
    tick, started, sent = 0.01, time.monotonic(), 0
    total = int(rate * seconds)
    with progress(total, f"{phase} at {rate:,.0f}/s") as bar:
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
    return kafka_producer(
        settings,
        acks="all",
        linger_ms=linger_ms,
        max_batch_size=512 * 1024,
    )


async def _send(producer: AIOKafkaProducer, settings: Settings, message: Message) -> Any:
    topic = settings.input_topics[Workload.topic_index(message.topic)]
    return await producer.send(topic, message.value, key=message.key)


def write_outputs(result: BenchResult, out: Path) -> None:
    from stockline.bench.plot import plot

    write_json(result, out / "bench.json")
    plot(result, out / "bench.png")
