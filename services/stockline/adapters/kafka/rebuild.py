"""`stockline rebuild`: the Redis ledger recomputed from the input topics, for disaster
recovery. Everything the topics still hold is replayed, from the beginning up to where
they ended when the rebuild started, into fresh keys; then the fresh keys replace the
live ones. Nothing is published (the ATP topic and the DLQ already have what they need).

Run it with the workers stopped: the replay stops at the offsets Kafka had at its start,
and a worker writing meanwhile would be overwritten by the swap.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from stockline.adapters.clients import kafka_admin, kafka_consumer
from stockline.adapters.kafka.partitions import MissingTopics, assign_known, topic_partitions
from stockline.adapters.redis.keys import Keys
from stockline.adapters.redis.store import RedisLedgerStore
from stockline.adapters.redis.swap import swap_namespace
from stockline.service_layer.planning import Planner
from stockline.service_layer.ports import DeadLetter, RawRecord
from stockline.service_layer.process_batch import LedgerPipeline
from stockline.settings import Settings

Progress = Callable[[int, int], None]
"""Called with (records replayed so far, records to replay)."""


class WorkersRunning(RuntimeError):
    """The consumer group has live members: stop the workers before a rebuild."""


__all__ = ["MissingTopics", "RebuildReport", "WorkersRunning", "rebuild"]


class Discard:
    """A Publisher that publishes nothing: a rebuild only recomputes the ledger."""

    async def publish_atp(
        self, nodes: Sequence[tuple[str, str, bytes]], skus: Sequence[tuple[str, bytes]]
    ) -> None:
        return None

    async def dead_letter(self, records: Sequence[DeadLetter]) -> None:
        return None

    async def publish_signals(
        self, reorder: Sequence[tuple[str, bytes]], rebalance: Sequence[tuple[str, bytes]]
    ) -> None:
        return None


@dataclass(frozen=True)
class RebuildReport:
    records: int
    keys_swapped: int
    seconds: float


async def rebuild(
    settings: Settings, redis: object, planner: Planner, progress: Progress
) -> RebuildReport:
    """Replay every input topic into fresh keys, then swap them in (see the module doc)."""
    await _refuse_if_workers_run(settings)
    partitions = await _input_partitions(settings)
    started = time.monotonic()
    staging = Keys(f"{settings.key_prefix}-rebuild-{int(time.time())}", settings.ledger_shards)
    store = RedisLedgerStore(
        redis,  # type: ignore[arg-type]
        keys=staging,
        retention_us=settings.retention_us,
        demand_days=2 * settings.demand_horizon_days,
    )
    pipeline = LedgerPipeline(
        store, Discard(), settings.retention_us, planner=planner, validate_at_record_time=True
    )
    records = await _replay(settings, partitions, pipeline, progress)
    live = Keys(settings.key_prefix, settings.ledger_shards)
    swapped = await swap_namespace(redis, staging, live)  # type: ignore[arg-type]
    return RebuildReport(records, swapped, time.monotonic() - started)


async def _replay(
    settings: Settings,
    partitions: list[TopicPartition],
    pipeline: LedgerPipeline,
    progress: Progress,
) -> int:
    consumer = kafka_consumer(settings, enable_auto_commit=False)
    await consumer.start()
    try:
        ends, total = await _assign_from_start(consumer, partitions)
        done = 0
        while remaining := [tp for tp in ends if await consumer.position(tp) < ends[tp]]:
            batch = await consumer.getmany(
                *remaining, timeout_ms=1000, max_records=settings.batch_max
            )
            records = [
                RawRecord(m.topic, m.partition, m.offset, m.key, m.value, m.timestamp)
                for tp, messages in batch.items()
                for m in messages
                if m.offset < ends[tp]
            ]
            if records:
                await pipeline.process(records)
                done += len(records)
                progress(done, total)
        return done
    finally:
        await consumer.stop()


async def _assign_from_start(
    consumer: AIOKafkaConsumer, tps: list[TopicPartition]
) -> tuple[dict[TopicPartition, int], int]:
    """Assign every input partition at its beginning; (end offset per partition, records).
    The consumer learns the partitions' leaders from the metadata `assign` asks for: until
    it knows every topic, offsets it reads would not be the topics' (a replay of nothing)."""
    try:
        await assign_known(consumer, tps)
    except MissingTopics as exc:
        raise MissingTopics(f"{exc}; nothing was replaced") from exc
    ends = await consumer.end_offsets(tps)
    starts = await consumer.beginning_offsets(tps)
    await consumer.seek_to_beginning(*tps)
    return ends, sum(ends[tp] - starts[tp] for tp in tps)


async def _input_partitions(settings: Settings) -> list[TopicPartition]:
    """Every partition of every input topic, as the broker names them (asked again while a
    topic has no leaders yet). A topic it does not name stops the rebuild before anything
    is replaced: replaying without it would swap in a ledger missing its events."""
    admin = kafka_admin(settings)
    await admin.start()
    try:
        return await topic_partitions(admin, list(settings.input_topics))
    except MissingTopics as exc:
        raise MissingTopics(
            f"{exc}: create them (stockline topics) or fix STOCKLINE_INPUT_TOPICS; "
            "nothing was replaced"
        ) from exc
    finally:
        await admin.close()


async def _refuse_if_workers_run(settings: Settings) -> None:
    admin = kafka_admin(settings)
    await admin.start()
    try:
        described = await admin.describe_consumer_groups([settings.consumer_group])
    finally:
        await admin.close()
    members = [m for group in described for m in _members(group)]
    if members:
        raise WorkersRunning(
            f"consumer group {settings.consumer_group} has {len(members)} live member(s): "
            "stop the workers before rebuilding (they would write to the keys being replaced)"
        )


def _members(group: object) -> list[object]:
    groups = getattr(group, "groups", None)
    if groups is not None:  # a DescribeGroupsResponse: groups are tuples, members 6th
        return [m for g in groups for m in (g[5] if len(g) > 5 else [])]
    return list(getattr(group, "members", []) or [])
