"""The `stockline` command. Entry points only; the work happens in bootstrap and adapters."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Sequence
from pathlib import Path
from typing import TypeVar

from stockline.settings import Settings

T = TypeVar("T")


def _ensure_topics(settings: Settings) -> tuple[list[str], list[str]]:
    from stockline.adapters.kafka.topics import TopicMismatch, ensure_topics

    try:
        return asyncio.run(_reachable_kafka(settings, ensure_topics(settings)))
    except TopicMismatch as exc:
        raise SystemExit(f"stockline: {exc}") from exc


def _topics(settings: Settings, _: argparse.Namespace) -> int:
    created, present = _ensure_topics(settings)
    for name in created:
        print(f"created  {name}")
    for name in present:
        print(f"present  {name}")
    return 0


async def _reachable_kafka(settings: Settings, work: Awaitable[T]) -> T:
    """Await `work`, turning an unreachable broker into a message naming the address."""
    from aiokafka.errors import KafkaConnectionError

    try:
        return await work
    except KafkaConnectionError as exc:
        raise SystemExit(
            f"stockline: cannot reach Kafka at {settings.kafka_bootstrap} "
            f"(STOCKLINE_KAFKA_BOOTSTRAP): {exc}"
        ) from exc


def _check_redis(settings: Settings) -> None:
    from redis import Redis
    from redis.exceptions import ConnectionError as RedisConnectionError

    try:
        Redis.from_url(settings.redis_url, socket_connect_timeout=5).ping()
    except RedisConnectionError as exc:
        raise SystemExit(
            f"stockline: cannot reach Redis at {settings.redis_url} (STOCKLINE_REDIS_URL): {exc}"
        ) from exc


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    import faust

    from stockline.adapters.network_file import NetworkFileError
    from stockline.bootstrap import build_worker, planner

    try:
        plans = planner(settings)  # a bad network file fails before anything connects
    except NetworkFileError as exc:
        raise SystemExit(f"stockline: {exc}") from exc
    _check_redis(settings)
    _ensure_topics(settings)
    worker = build_worker(settings, plans)
    faust.Worker(worker.app, loglevel=args.loglevel, quiet=True).execute_from_commandline()
    return 0


def _demo(settings: Settings, args: argparse.Namespace) -> int:
    from stockline.demo import run_demo

    return asyncio.run(_reachable_kafka(settings, run_demo(settings, sku=args.sku)))


def _api(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from stockline.bootstrap import build_api

    app = build_api(settings)
    uvicorn.run(
        app,
        host=settings.api_host,
        port=settings.api_port,
        log_level=args.loglevel,
        access_log=False,
    )
    return 0


def _bench(settings: Settings, args: argparse.Namespace) -> int:
    from stockline.bench.run import report, run_bench

    result = asyncio.run(
        _reachable_kafka(
            settings,
            run_bench(
                settings,
                events=args.events,
                skus=args.skus,
                nodes=args.nodes,
                latency_s=args.latency_seconds,
                out=args.out,
            ),
        )
    )
    print(report(result))
    print(f"written: {args.out / 'bench.json'}, {args.out / 'bench.png'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stockline",
        description="Inventory visibility: fold warehouse and order events from Kafka into a "
        "per-node stock ledger in Redis and publish available-to-promise. "
        "Settings come from STOCKLINE_* environment variables (see README).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "topics", help="create the input, ATP, DLQ and signal topics (idempotent)"
    ).set_defaults(run=_topics)
    worker = sub.add_parser(
        "worker", help="run a ledger worker (joins the consumer group; run more to scale out)"
    )
    worker.add_argument("--loglevel", default="warning", choices=["debug", "info", "warning"])
    worker.set_defaults(run=_worker)
    api = sub.add_parser(
        "api", help="serve the HTTP read API (availability, node stock, /metrics) with uvicorn"
    )
    api.add_argument("--loglevel", default="warning", choices=["debug", "info", "warning"])
    api.set_defaults(run=_api)
    demo = sub.add_parser(
        "demo", help="publish a short story of events for one SKU and print ATP as it changes"
    )
    demo.add_argument("--sku", default="SKU-DEMO-1")
    demo.set_defaults(run=_demo)
    bench = sub.add_parser(
        "bench",
        help="measure one worker on the real broker: sustained events/s, ratio to a bare "
        "consumer, event-to-ATP latency at half peak, Redis round trips, RSS",
    )
    bench.add_argument("--events", type=int, default=1_000_000)
    bench.add_argument("--skus", type=int, default=10_000)
    bench.add_argument("--nodes", type=int, default=20)
    bench.add_argument("--latency-seconds", type=float, default=20.0)
    bench.add_argument("--out", type=Path, default=Path("out/bench"))
    bench.set_defaults(run=_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = Settings()
    return int(args.run(settings, args))


if __name__ == "__main__":
    sys.exit(main())
