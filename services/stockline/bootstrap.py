"""The composition root: settings -> adapters -> service layer. Nothing runs at import."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from stockline.adapters.kafka.app import LedgerApp, attach_pipeline, create_app
from stockline.adapters.kafka.publisher import KafkaPublisher
from stockline.adapters.metrics import Metrics
from stockline.adapters.redis.keys import Keys
from stockline.adapters.redis.store import RedisLedgerStore
from stockline.service_layer.process_batch import LedgerPipeline
from stockline.settings import Settings


@dataclass
class LedgerWorker:
    app: LedgerApp
    pipeline: LedgerPipeline
    store: RedisLedgerStore
    metrics: Metrics


def redis_client(settings: Settings) -> Redis:
    return Redis.from_url(
        settings.redis_url, decode_responses=True, socket_timeout=10, health_check_interval=15
    )


def build_worker(settings: Settings) -> LedgerWorker:
    """Wire the ledger worker: faust app, Redis store, Kafka publisher, metrics."""
    app = create_app(settings)
    store = RedisLedgerStore(
        redis_client(settings), keys=Keys(settings.key_prefix), retention_us=settings.retention_us
    )
    publisher = KafkaPublisher(
        app.producer, atp_topic=settings.atp_topic, dlq_topic=settings.dlq_topic
    )
    pipeline = LedgerPipeline(store, publisher, settings.retention_us)
    metrics = Metrics()
    app.watermark_source = store.watermarks
    attach_pipeline(app, settings, pipeline.process, metrics)
    return LedgerWorker(app, pipeline, store, metrics)
