"""The composition root: settings -> adapters -> service layer. Nothing runs at import."""

from __future__ import annotations

import gc
from dataclasses import dataclass
from typing import TYPE_CHECKING

import faust
from redis.asyncio import Redis, RedisCluster

from stockline.adapters.clients import redis_client as redis_client  # every process's Redis
from stockline.adapters.kafka.app import attach_ledger, create_app
from stockline.adapters.kafka.ledger_consumer import LedgerConsumer
from stockline.adapters.kafka.publisher import KafkaPublisher
from stockline.adapters.kafka.sweep import DailySweep
from stockline.adapters.metrics import Metrics
from stockline.adapters.network_file import load_network
from stockline.adapters.redis.keys import Keys
from stockline.adapters.redis.reader import RedisLedgerReader
from stockline.adapters.redis.store import RedisLedgerStore
from stockline.service_layer.planning import Planner
from stockline.service_layer.process_batch import LedgerPipeline
from stockline.service_layer.review import DailyReview
from stockline.settings import Settings

if TYPE_CHECKING:
    from stockline.adapters.http.app import ReadApi
    from stockline.adapters.http.metrics import HttpMetrics
    from stockline.adapters.kafka.holds import KafkaHoldLog
    from stockline.service_layer.expiry import HoldExpiry
    from stockline.service_layer.rebuild import Progress, RebuildReport
    from stockline.service_layer.reservations import Reservations


@dataclass
class LedgerWorker:
    app: faust.App
    pipeline: LedgerPipeline
    store: RedisLedgerStore
    metrics: Metrics


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
    redis = redis_client(settings)
    store = RedisLedgerStore(
        redis,
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
    if plans.network is not None and settings.review_interval_s > 0:
        sweep = daily_sweep(
            settings,
            consumer,
            store,
            RedisLedgerReader(redis, keys=keys(settings)),
            publisher,
            plans,
            metrics,
        )
        app.service(sweep)  # type: ignore[arg-type]
    return LedgerWorker(app, pipeline, store, metrics)


def daily_sweep(
    settings: Settings,
    consumer: LedgerConsumer,
    store: RedisLedgerStore,
    index: RedisLedgerReader,
    publisher: KafkaPublisher,
    plans: Planner,
    metrics: Metrics,
) -> DailySweep:
    """The review of the owned partitions' SKUs once per UTC day without events; the node
    index is read on the store's own Redis client."""
    network = plans.network
    nodes = [n.node_id for n in network.nodes] if network is not None else []
    review = DailyReview(store, publisher, plans)
    return DailySweep(
        consumer, review, index, nodes, metrics, interval_s=settings.review_interval_s
    )


async def rebuild(
    settings: Settings, redis: Redis | RedisCluster, plans: Planner, progress: Progress
) -> RebuildReport:
    """Wire and run the rebuild: the input topics on Kafka replayed into a staging ledger
    on `redis`, swapped in for the live one (service_layer/rebuild.py)."""
    from stockline.adapters.kafka.rebuild import KafkaInputLog
    from stockline.adapters.redis.staging import RedisStagingLedger
    from stockline.service_layer import rebuild as use_case

    def staging() -> RedisStagingLedger:
        return RedisStagingLedger(
            redis,
            keys(settings),
            retention_us=settings.retention_us,
            demand_days=2 * settings.demand_horizon_days,
        )

    return await use_case.rebuild(
        KafkaInputLog(settings), staging, plans, settings.retention_us, progress
    )


def api_tokens(settings: Settings) -> list[str]:
    """The bearer tokens the API accepts: `api_tokens` plus each non-blank line of
    `api_tokens_file`. Empty means the API runs without auth."""
    tokens = [t.get_secret_value() for t in settings.api_tokens]
    if settings.api_tokens_file is not None:
        lines = settings.api_tokens_file.read_text(encoding="utf-8").splitlines()
        tokens += [line.strip() for line in lines if line.strip()]
    return tokens


def build_api(settings: Settings) -> ReadApi:
    """Wire the API: Redis reader, network view, availability queries; the reservation use
    cases on the Redis ledger, records in Redis and the hold log on Kafka; the expiry
    sweep; the ASGI app. Channels and fixed safety stock come from the network file, a
    demand-driven safety stock from what the workers stored with the ledger."""
    from stockline.adapters.http.app import TaskRunner
    from stockline.adapters.http.app import create_app as create_api
    from stockline.adapters.http.metrics import HttpMetrics
    from stockline.service_layer.availability import Availability

    if settings.reservations_topic not in settings.input_topics:
        raise ValueError(
            f"STOCKLINE_RESERVATIONS_TOPIC={settings.reservations_topic} is not among "
            "STOCKLINE_INPUT_TOPICS: the workers would never apply the API's holds"
        )
    redis = redis_client(settings)
    reader = RedisLedgerReader(redis, keys=keys(settings))
    metrics = HttpMetrics()
    reservations, expiry, hold_log = reservation_services(settings, redis, metrics)
    return create_api(
        Availability(reader, planner(settings).view),
        metrics=metrics,
        reservations=reservations,
        allow_anonymous_writes=settings.api_allow_anonymous_writes,
        background=[hold_log, TaskRunner(expiry.run, "hold-expiry")],
        tokens=api_tokens(settings),
        max_body_bytes=settings.api_max_body_bytes,
        batch_max=settings.api_batch_max,
        cache_max_age_s=settings.api_cache_max_age_s,
        read_cache_s=settings.api_read_cache_ms / 1000,
        read_cache_skus=settings.api_read_cache_skus,
        on_shutdown=redis.aclose,
    )


def reservation_services(
    settings: Settings, redis: Redis | RedisCluster, metrics: HttpMetrics
) -> tuple[Reservations, HoldExpiry, KafkaHoldLog]:
    """The reservation use cases and the expiry sweep, over the Redis ledger, reservation
    records in Redis and the hold log on Kafka (the log is started with the app)."""
    from stockline.adapters.kafka.holds import KafkaHoldLog
    from stockline.adapters.redis.reservations import RedisReservationRecords, RedisSweepLease
    from stockline.service_layer.expiry import HoldExpiry
    from stockline.service_layer.reservations import Reservations

    layout = keys(settings)
    store = RedisLedgerStore(redis, keys=layout, retention_us=settings.retention_us)
    records = RedisReservationRecords(redis, layout)
    hold_log = KafkaHoldLog(
        settings, settings.reservations_topic, timeout_s=settings.api_publish_timeout_s
    )
    reservations = Reservations(store, hold_log, records, on_outcome=metrics.reservation)
    expiry = HoldExpiry(
        store,
        hold_log,
        records,
        RedisSweepLease(redis, layout),
        on_sweep=metrics.swept,
        interval_s=settings.api_expiry_interval_s,
    )
    return reservations, expiry, hold_log


def api_from_env() -> ReadApi:
    """The app factory each `stockline api` worker process calls (uvicorn `factory=True`):
    settings from the environment, then `build_api`, then the worker's garbage-collection
    pace: a full collection walked the ~100,000 objects of the modules and the app in
    ~50 ms, a stall for every request in flight; frozen, they are walked no more."""
    api = build_api(Settings())
    tune_gc()
    return api
