"""The ledger worker's consumer: the six input topics read in batches, in one consumer group.

Batches come straight from aiokafka's `getmany`, so no per-message dispatch stands between
the broker and the pipeline (a faust stream of raw messages tops out at roughly 14k
messages/s on two cores; `getmany` hands over hundreds of thousands). Each batch is
processed under a lock; its offsets become committable only once `process` returned,
i.e. once Redis applied it and its ATP records are on the broker. Offsets are committed
every `commit_interval_s`, on partition revocation and on stop.

On every assignment a partition resumes from Kafka's committed offset, unless Redis'
applied watermark is behind it (Redis lost its tail): then it replays from the watermark.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Sequence
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, KafkaError
from aiokafka.structs import TopicPartition
from mode import Service
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from stockline.adapters.clients import kafka_consumer
from stockline.adapters.kafka.health import Readiness
from stockline.adapters.kafka.resume import WatermarkSource, rewind_target
from stockline.adapters.metrics import Metrics
from stockline.service_layer.ports import LedgerRolledBack, RawRecord
from stockline.service_layer.process_batch import BatchReport
from stockline.settings import Settings

log = logging.getLogger(__name__)


class ProcessBatch(Protocol):
    def __call__(
        self, records: Sequence[RawRecord], republish: bool = False
    ) -> Awaitable[BatchReport]:
        """Process a batch (see `LedgerPipeline.process`)."""
        ...


_REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)
_RETRYABLE = (*_REDIS_DOWN, KafkaError, OSError)


class LedgerConsumer(Service):
    """Consume, process, then commit; one batch at a time, partitions in order."""

    def __init__(
        self,
        settings: Settings,
        process: ProcessBatch,
        watermarks: WatermarkSource,
        metrics: Metrics,
        *,
        requires: Sequence[Service] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._requires = list(requires)
        self._settings = settings
        self.readiness = Readiness()
        self._process = self.readiness.watch(process)
        self._watermarks = watermarks
        self._metrics = metrics
        self._lock = asyncio.Lock()
        self._next: dict[TopicPartition, int] = {}  # next offset to process, per partition
        self._uncommitted: dict[TopicPartition, int] = {}
        self._replay_below: dict[TopicPartition, int] = {}
        """Per partition replaying what Redis lost: the offset the worker had reached."""
        self._last_commit = time.monotonic()
        self._consumer: AIOKafkaConsumer | None = None

    @property
    def consumer(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            raise RuntimeError("the ledger consumer is not started")
        return self._consumer

    def _new_consumer(self) -> AIOKafkaConsumer:
        settings = self._settings
        return kafka_consumer(
            settings,
            group_id=settings.consumer_group,
            client_id=f"{settings.consumer_group}-ledger",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=int(settings.session_timeout_s * 1000),
            heartbeat_interval_ms=int(settings.session_timeout_s * 250),
            max_partition_fetch_bytes=4 * 1024 * 1024,
            fetch_max_wait_ms=int(settings.batch_within_s * 1000),
        )

    def on_init_dependencies(self) -> list[Service]:
        """Started before this consumer and stopped after it (the publisher)."""
        return self._requires

    async def on_start(self) -> None:
        # aiokafka clients bind to the running loop, so they are made here, not in __init__
        self._consumer = self._new_consumer()
        self.consumer.subscribe(list(self._settings.input_topics), listener=_Rebalance(self))
        await self.consumer.start()

    async def on_stop(self) -> None:
        async with self._lock:
            await self._commit(self._uncommitted)
            await self.consumer.stop()

    @Service.task
    async def _consume(self) -> None:
        timeout_ms = int(self._settings.batch_within_s * 1000)
        while not self.should_stop:
            batch = await self.consumer.getmany(
                timeout_ms=timeout_ms, max_records=self._settings.batch_max
            )
            if batch:
                await self._handle(batch)
            if time.monotonic() - self._last_commit >= self._settings.commit_interval_s:
                async with self._lock:
                    await self._commit(self._uncommitted)

    async def _handle(self, batch: dict[TopicPartition, list[Any]]) -> None:
        async with self._lock:
            assigned = self.consumer.assignment()
            records = [
                RawRecord(m.topic, m.partition, m.offset, m.key, m.value, m.timestamp)
                for tp, messages in batch.items()
                if tp in assigned  # a rebalance took it away meanwhile: its new owner reads it
                for m in messages
            ]
            if not records:
                return
            republish = self._replays(batch)
            try:
                report = await self._until_done(records, republish)
            except LedgerRolledBack as exc:
                self._replay(batch, exc.lost)
                return
            for tp, messages in batch.items():
                if tp in assigned and messages:
                    self._next[tp] = self._uncommitted[tp] = messages[-1].offset + 1
                    if self._replay_below.get(tp, 0) <= self._next[tp]:
                        self._replay_below.pop(tp, None)
        self._metrics.observe(report)

    def _replays(self, batch: dict[TopicPartition, list[Any]]) -> bool:
        """Whether the batch re-reads offsets applied before Redis lost them: what was
        published from the lost state must be published again, changed or not."""
        return any(
            messages and messages[0].offset < self._replay_below.get(tp, -1)
            for tp, messages in batch.items()
        )

    def _replay(
        self, batch: dict[TopicPartition, list[Any]], lost: dict[tuple[str, int], int]
    ) -> None:
        """Redis lost writes: put every partition of the dropped batch back to its first
        record, and every partition Redis lost back to the first offset it no longer has.
        Everything up to where the worker had read is replayed with its records published
        again: the dropped batch too, which may have been applied and published on the
        Redis that lost it (the loss can be noticed as late as its progress round trip)."""
        assigned = self.consumer.assignment()
        for tp, messages in batch.items():
            if tp in assigned and messages:
                self._replay_to(tp, messages[-1].offset + 1)
                if (tp.topic, tp.partition) not in lost:
                    self.consumer.seek(tp, messages[0].offset)
        for (topic, partition), stored in lost.items():
            tp = TopicPartition(topic, partition)
            if tp in assigned:
                log.warning(
                    "Redis no longer has what was applied from %s[%d] after offset %d: "
                    "replaying from there",
                    topic,
                    partition,
                    stored,
                )
                self._replay_to(tp, self._next.get(tp, stored + 1))
                self.consumer.seek(tp, stored + 1)
                self._next[tp] = self._uncommitted[tp] = stored + 1

    def _replay_to(self, tp: TopicPartition, reached: int) -> None:
        self._replay_below[tp] = max(self._replay_below.get(tp, -1), reached)

    async def _until_done(self, records: list[RawRecord], republish: bool) -> BatchReport:
        """Process the batch, retrying with backoff while Redis or Kafka is unreachable.
        Nothing is skipped, and a retried half-applied batch is safe: applying is idempotent."""
        delay = 0.1
        while True:
            try:
                return await self._process(records, republish)
            except _RETRYABLE as exc:
                if isinstance(exc, _REDIS_DOWN):
                    self._metrics.redis_errors.inc()
                log.warning("batch of %d failed (%r); retrying in %.1fs", len(records), exc, delay)
                if self.should_stop:
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        """Commit what has been processed (caller holds the lock)."""
        self._last_commit = time.monotonic()
        if not offsets:
            return
        pending = dict(offsets)
        try:
            await self.consumer.commit(pending)
        except (CommitFailedError, KafkaError) as exc:
            log.warning(
                "commit of %d partitions failed (%r); redelivery will be skipped", len(pending), exc
            )
            return
        for tp, offset in pending.items():
            if self._uncommitted.get(tp) == offset:
                del self._uncommitted[tp]

    @property
    def batch_lock(self) -> asyncio.Lock:
        """Held while a batch is processed: hold it to plan a SKU no batch is planning."""
        return self._lock

    def owned_partitions(self) -> tuple[set[int], int]:
        """(partition numbers this worker is assigned, partitions of an input topic); all
        input topics have the same partition count, and a SKU's key picks one number."""
        if self._consumer is None:
            return set(), 0
        assigned = {tp.partition for tp in self.consumer.assignment()}
        count = len(self.consumer.partitions_for_topic(self._settings.input_topics[0]) or ())
        return assigned, count

    def lag(self) -> dict[tuple[str, int], int]:
        """Per assigned partition: high watermark minus the next offset to process."""
        out: dict[tuple[str, int], int] = {}
        if self._consumer is None:
            return out
        for tp in self.consumer.assignment():
            high = self.consumer.highwater(tp)
            start = self._next.get(tp)
            if high is not None and start is not None:
                out[tp.topic, tp.partition] = max(0, high - start)
        return out

    async def on_revoked(self, revoked: set[TopicPartition]) -> None:
        async with self._lock:
            await self._commit({tp: o for tp, o in self._uncommitted.items() if tp in revoked})
            for tp in revoked:
                self._uncommitted.pop(tp, None)
                self._next.pop(tp, None)
                self._replay_below.pop(tp, None)

    async def on_assigned(self, assigned: set[TopicPartition]) -> None:
        marks = await self._watermarks_of(assigned)
        for tp in assigned:
            committed = await self.consumer.committed(tp)
            self._next[tp] = committed if committed is not None and committed >= 0 else 0
            target = rewind_target(committed, marks.get((tp.topic, tp.partition)))
            if target is not None:
                log.warning(
                    "Redis has applied %s[%d] only below offset %d but Kafka committed %d: "
                    "replaying from %d",
                    tp.topic,
                    tp.partition,
                    target,
                    committed,
                    target,
                )
                self.consumer.seek(tp, target)
                self._next[tp] = target
                self._replay_below[tp] = committed

    async def _watermarks_of(self, assigned: set[TopicPartition]) -> dict[tuple[str, int], int]:
        """The partitions' Redis watermarks, waiting out a Redis outage: resuming without
        them could skip what Redis lost."""
        delay = 0.1
        while True:
            try:
                return await self._watermarks([(tp.topic, tp.partition) for tp in assigned])
            except _REDIS_DOWN as exc:
                self._metrics.redis_errors.inc()
                log.warning("reading watermarks failed (%r); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: LedgerConsumer) -> None:
        self._owner = owner

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self._owner.on_revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        await self._owner.on_assigned(set(assigned))
