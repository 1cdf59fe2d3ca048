"""The faust app of the ledger worker: six input topics in, batches to the pipeline.

Faust runs `at_least_once` with one agent (concurrency 1), so each partition is processed
in order; `take_events` holds acks until the batch is applied and published, so Kafka
offsets are committed only for what Redis has.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import faust
from prometheus_client import CONTENT_TYPE_LATEST
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from stockline.adapters.kafka.resume import WatermarkSource, install_watermark_resume
from stockline.adapters.metrics import Metrics
from stockline.service_layer.ports import RawRecord
from stockline.service_layer.process_batch import BatchReport
from stockline.settings import Settings

log = logging.getLogger(__name__)

ProcessBatch = Callable[[Sequence[RawRecord]], Awaitable[BatchReport]]
_RETRYABLE = (RedisConnectionError, RedisTimeoutError, OSError)


class LedgerApp(faust.App):
    """A faust App whose consumer resumes from the Redis watermark when Redis is behind."""

    watermark_source: WatermarkSource | None = None

    def _new_consumer(self) -> Any:
        consumer = super()._new_consumer()
        if self.watermark_source is not None:
            install_watermark_resume(consumer, self.watermark_source)
        return consumer


def create_app(settings: Settings) -> LedgerApp:
    """The app alone; `attach_pipeline` wires the agent once the pipeline exists."""
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    servers = ";".join(f"kafka://{h.strip()}" for h in settings.kafka_bootstrap.split(","))
    return LedgerApp(
        settings.consumer_group,
        broker=servers,
        processing_guarantee="at_least_once",
        store="memory://",
        datadir=f"{settings.data_dir}/{settings.consumer_group}",
        autodiscover=False,
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        topic_disable_leader=True,
        topic_allow_declare=False,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_linger_ms=2,
        broker_commit_interval=1.0,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=settings.session_timeout_s / 4,
        web_host=settings.web_host,
        web_port=settings.web_port,
    )


def attach_pipeline(
    app: LedgerApp, settings: Settings, process: ProcessBatch, metrics: Metrics
) -> None:
    """Register the ledger agent and the /metrics page on the app."""
    source = app.topic(
        *settings.input_topics,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        allow_empty=True,
    )

    lag = LagTracker()

    async def ledger(stream: Any) -> None:
        async for events in stream.take_events(settings.batch_max, within=settings.batch_within_s):
            records = [_raw(event.message) for event in events]
            metrics.observe(await _until_done(app, process, records, metrics))
            lag.processed(records)

    app.agent(source, name="stockline.ledger", concurrency=1)(ledger)

    async def report_lag() -> None:
        metrics.set_lag(lag.lag(app.consumer))

    app.timer(interval=settings.lag_interval_s)(report_lag)

    async def metrics_page(web: Any, request: Any) -> Any:
        return web.bytes(metrics.render(), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    app.page("/metrics")(metrics_page)


class LagTracker:
    """Per assigned partition: the high watermark minus the next offset to process."""

    def __init__(self) -> None:
        self._next: dict[tuple[str, int], int] = {}

    def processed(self, records: Sequence[RawRecord]) -> None:
        for r in records:
            self._next[r.topic, r.partition] = r.offset + 1

    def lag(self, consumer: Any) -> dict[tuple[str, int], int]:
        out: dict[tuple[str, int], int] = {}
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            if high is None:
                continue  # nothing fetched from it yet
            start = self._next.get((tp.topic, tp.partition))
            if start is None:  # nothing processed since assignment: from the committed offset
                start = consumer._committed_offset.get(tp) or 0
            out[tp.topic, tp.partition] = max(0, high - start)
        return out


def _raw(message: Any) -> RawRecord:
    return RawRecord(message.topic, message.partition, message.offset, message.key, message.value)


async def _until_done(
    app: LedgerApp, process: ProcessBatch, records: list[RawRecord], metrics: Metrics
) -> BatchReport:
    """Process the batch, retrying with backoff while Redis or Kafka is unreachable.

    Nothing is skipped: the batch stays unacknowledged until it succeeds, and a retry
    of a half-applied batch is safe because applying is idempotent."""
    delay = 0.1
    while True:
        try:
            return await process(records)
        except _RETRYABLE as exc:
            if not isinstance(exc, OSError) or isinstance(exc, RedisConnectionError):
                metrics.redis_errors.inc()
            log.warning("batch of %d failed (%r); retrying in %.1fs", len(records), exc, delay)
            if app.should_stop:
                raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
