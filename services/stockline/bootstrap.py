"""The composition root: settings -> adapters -> service layer. Nothing runs at import."""

from __future__ import annotations

import gc
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import faust
from redis.asyncio import Redis, RedisCluster

from stockline.adapters.kafka.app import attach_ledger, create_app
from stockline.adapters.kafka.ledger_consumer import LedgerConsumer
from stockline.adapters.kafka.publisher import KafkaPublisher
from stockline.adapters.metrics import Metrics
from stockline.adapters.network_file import load_network
from stockline.adapters.redis.keys import Keys
from stockline.adapters.redis.store import RedisLedgerStore
from stockline.service_layer.planning import Planner
from stockline.service_layer.process_batch import LedgerPipeline
from stockline.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI


@dataclass
class LedgerWorker:
    app: faust.App
    pipeline: LedgerPipeline
    store: RedisLedgerStore
    metrics: Metrics


def redis_client(settings: Settings, *, decode_responses: bool = True) -> Redis | RedisCluster:
    """The one place a Redis client is made: a single Redis, or with `redis_mode=cluster`
    redis-py's asyncio cluster client, which discovers every node from the one in the URL,
    keeps the slot map and follows MOVED/ASK for the commands it sends (the ledger store
    sends its own batches per node, adapters/redis/transport.py). A slot without a primary
    fails only the commands for it (`require_full_coverage=False`)."""
    options: dict[str, Any] = {"decode_responses": decode_responses, "socket_timeout": 10}
    if settings.redis_mode == "cluster":
        return RedisCluster.from_url(settings.redis_url, require_full_coverage=False, **options)
    return Redis.from_url(settings.redis_url, health_check_interval=15, **options)


def keys(settings: Settings) -> Keys:
    """The Redis key layout of the configured namespace and shard count."""
    return Keys(settings.key_prefix, settings.ledger_shards)


def planner(settings: Settings) -> Planner:
    """The planner of the configured network file (NetworkFileError names field and line)."""
    network = load_network(settings.network_file) if settings.network_file else None
    return Planner(network, settings.demand_alpha, settings.demand_horizon_days)


def tune_gc() -> None:
    """Collect garbage at a pace that suits a batch worker. A batch makes hundreds of
    thousands of short-lived objects, and with the default thresholds those alive while
    their batch runs are promoted into the oldest generation, whose collections then walk
    the whole heap several times a second: 20-30% of the
    worker's time, measured in-process. Collect the young generation every 50,000
    allocations instead of 700, and move what startup built (modules, clients) out of
    every collection."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 10)


def build_worker(settings: Settings, plans: Planner | None = None) -> LedgerWorker:
    """Wire the ledger worker: Kafka consumer and publisher, Redis store, metrics."""
    app = create_app(settings)
    metrics = Metrics()
    plans = plans or planner(settings)
    store = RedisLedgerStore(
        redis_client(settings),
        keys=keys(settings),
        retention_us=settings.retention_us,
        demand_days=2 * settings.demand_horizon_days,
        on_round_trip=metrics.redis_round_trips.inc,
    )
    publisher = KafkaPublisher(settings)
    pipeline = LedgerPipeline(store, publisher, settings.retention_us, planner=plans)
    consumer = LedgerConsumer(
        settings, pipeline.process, store.watermarks, metrics, requires=[publisher]
    )
    attach_ledger(app, settings, consumer, metrics)
    return LedgerWorker(app, pipeline, store, metrics)


def api_tokens(settings: Settings) -> list[str]:
    """The bearer tokens the API accepts: `api_tokens` plus each non-blank line of
    `api_tokens_file`. Empty means the API runs without auth."""
    tokens = [t.get_secret_value() for t in settings.api_tokens]
    if settings.api_tokens_file is not None:
        lines = settings.api_tokens_file.read_text(encoding="utf-8").splitlines()
        tokens += [line.strip() for line in lines if line.strip()]
    return tokens


def build_api(settings: Settings) -> FastAPI:
    """Wire the read API: Redis reader, network view, availability queries, FastAPI app.
    Channels and fixed safety stock come from the network file, a demand-driven safety
    stock from what the workers stored with the ledger."""
    from stockline.adapters.http.app import create_app as create_api
    from stockline.adapters.redis.reader import RedisLedgerReader
    from stockline.service_layer.availability import Availability

    redis = redis_client(settings)
    reader = RedisLedgerReader(redis, keys=keys(settings))
    return create_api(
        Availability(reader, planner(settings).view),
        tokens=api_tokens(settings),
        max_body_bytes=settings.api_max_body_bytes,
        batch_max=settings.api_batch_max,
        on_shutdown=redis.aclose,
    )
