"""The baselines the pipeline is compared with, on the same topics.

`naive_consumer_rate` is the consumer a team writes in an afternoon: aiokafka `getmany`,
`orjson.loads` of each value, one redis-py pipeline with one HINCRBY per event (key
`<prefix>:naive:<sku>`, field node_id, by the event's signed quantity), one small JSON
message per changed SKU per batch to a scratch topic, then `commit`. It has no
idempotency, no DLQ, no order lines or counts: what it costs is the floor of "consume,
write Redis, publish, commit" in Python. It reads with its own consumer group from the
beginning, with the worker's batch size, after the worker drained the backlog.

`bare_consumer_rate` consumes and discards: what Kafka and aiokafka alone give.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition
from redis.asyncio import Redis, RedisCluster

from stockline.adapters.clients import kafka_consumer, kafka_producer, redis_client
from stockline.bench.progress import progress
from stockline.settings import Settings

_OUTFLOW = frozenset({"pick", "transfer_shipped", "order_placed"})
Tick = Callable[[float, int], None]  # (seconds since the first batch, events so far)


def signed_qty(event: Mapping[str, Any]) -> int:
    """The naive consumer's idea of an event's effect on a node's stock."""
    if "delta" in event:
        return int(event["delta"])
    qty = int(event.get("qty", event.get("counted_qty", 0)))
    return -qty if event.get("event_type") in _OUTFLOW else qty


async def naive_consumer_rate(
    settings: Settings, *, group: str, out_topic: str, events: int, tick: Tick
) -> float:
    consumer = kafka_consumer(
        settings,
        *settings.input_topics,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = kafka_producer(settings, acks="all")
    redis = redis_client(settings, decode_responses=False)
    await consumer.start()
    await producer.start()
    try:
        return await _naive_loop(settings, consumer, producer, redis, out_topic, events, tick)
    finally:
        await consumer.stop()
        await producer.stop()
        await redis.aclose()


async def _naive_loop(
    settings: Settings,
    consumer: AIOKafkaConsumer,
    producer: AIOKafkaProducer,
    redis: Redis | RedisCluster,
    out_topic: str,
    events: int,
    tick: Tick,
) -> float:
    prefix = f"{settings.key_prefix}:naive:"
    got, started = 0, 0.0
    with progress(events, "naive consumer") as bar:
        while got < events:
            batch = await consumer.getmany(timeout_ms=1000, max_records=settings.batch_max)
            if not batch:
                continue
            started = started or time.monotonic()
            records = [r for rs in batch.values() for r in rs]
            pipe = redis.pipeline(transaction=False)
            touched = []
            for record in records:
                event = orjson.loads(record.value)
                pipe.hincrby(prefix + event["sku"], event["node_id"], signed_qty(event))
                touched.append((event["sku"], event["node_id"]))
            changed: dict[str, dict[str, int]] = {}
            for (sku, node), value in zip(touched, await pipe.execute(), strict=True):
                changed.setdefault(sku, {})[node] = value
            sends = [
                await producer.send(
                    out_topic, orjson.dumps({"sku": s, "on_hand": n}), key=s.encode()
                )
                for s, n in changed.items()
            ]
            await asyncio.gather(*sends)
            await consumer.commit()
            got += len(records)
            bar.update(len(records))
            tick(time.monotonic() - started, got)
    return got / (time.monotonic() - started)


async def bare_consumer_rate(settings: Settings, events: int, tick: Tick) -> float:
    """A consume-and-discard loop over the same topics."""
    consumer = kafka_consumer(
        settings,
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
        with progress(events, "bare consumer") as bar:
            while got < events:
                batch = await consumer.getmany(timeout_ms=1000, max_records=settings.batch_max)
                n = sum(len(messages) for messages in batch.values())
                got += n
                bar.update(n)
                tick(time.monotonic() - started, got)
        return got / (time.monotonic() - started)
    finally:
        await consumer.stop()
