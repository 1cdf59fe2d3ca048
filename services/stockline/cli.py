"""The `stockline` command. Entry points only; the work happens in bootstrap and adapters."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import sys
import time
from collections.abc import Awaitable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from stockline.settings import Settings

if TYPE_CHECKING:
    import faust

T = TypeVar("T")
TOOLS_EXTRA = ("matplotlib", "tqdm")
"""What `simulate` and `bench` draw with: the `tools` extra, absent from the worker image."""


def _need_tools(command: str) -> None:
    """Stop before a tool starts, not at its end when it draws, if the tools extra is missing."""
    for name in TOOLS_EXTRA:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            raise SystemExit(
                f"stockline {command} needs the tools extra: pip install 'stockline[tools]'"
            ) from exc


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
    from redis.exceptions import RedisClusterException, RedisError

    from stockline.bootstrap import redis_client

    async def ping() -> None:
        redis = redis_client(settings)
        try:
            await redis.ping()
        finally:
            await redis.aclose()

    try:
        asyncio.run(ping())
    except (RedisError, RedisClusterException, OSError) as exc:
        mode = " as a cluster (STOCKLINE_REDIS_MODE)" if settings.redis_mode == "cluster" else ""
        raise SystemExit(
            f"stockline: cannot reach Redis at {settings.redis_url} (STOCKLINE_REDIS_URL){mode}: "
            f"{exc}"
        ) from exc


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    from stockline.adapters.network_file import NetworkFileError
    from stockline.bootstrap import build_worker, planner, tune_gc

    try:
        plans = planner(settings)  # a bad network file fails before anything connects
    except NetworkFileError as exc:
        raise SystemExit(f"stockline: {exc}") from exc
    _check_redis(settings)
    _ensure_topics(settings)
    if args.processes > 1:
        from stockline.supervisor import supervise

        return supervise(settings, args.processes, ["--loglevel", args.loglevel])
    worker = build_worker(settings, plans)
    tune_gc()
    faust_worker(worker.app, args.loglevel).execute_from_commandline()
    return 0


def faust_worker(app: faust.App, loglevel: str) -> faust.Worker:
    """The process runner of a worker app, without faust's terminal spinner: to spin on
    every log record, the spinner sets the root logger to DEBUG, so the Kafka client's
    debug records (one per message sent) were all built and handed to it, ~7% of the
    worker's time, and its escape codes filled the log."""
    import faust

    worker = faust.Worker(app, loglevel=loglevel, quiet=True)
    worker.spinner = None
    return worker


def _demo(settings: Settings, args: argparse.Namespace) -> int:
    from stockline.demo import run_demo

    return asyncio.run(_reachable_kafka(settings, run_demo(settings, sku=args.sku)))


def _simulate(settings: Settings, args: argparse.Namespace) -> int:
    _need_tools("simulate")
    from stockline.simulation.command import simulate

    return asyncio.run(_reachable_kafka(settings, simulate(settings, args)))


def _api(settings: Settings, args: argparse.Namespace) -> int:
    from stockline.adapters.http.server import serve

    if args.workers < 1:
        raise SystemExit("stockline: --workers must be at least 1")
    serve(settings, workers=args.workers, loglevel=args.loglevel)
    return 0


def _bench(settings: Settings, args: argparse.Namespace) -> int:
    _need_tools("bench")
    from stockline.bench.run import run_bench

    asyncio.run(
        _reachable_kafka(
            settings,
            run_bench(
                settings,
                events=args.events,
                skus=args.skus,
                nodes=args.nodes,
                warmup_s=args.warmup_seconds,
                latency_s=args.latency_seconds,
                out=args.out,
                processes=args.processes,
            ),
        )
    )  # prints its report as soon as the figures are in, before it cleans up
    return 0


def _rebuild(settings: Settings, args: argparse.Namespace) -> int:
    from stockline.adapters.network_file import NetworkFileError
    from stockline.bootstrap import planner, rebuild, redis_client
    from stockline.service_layer.rebuild import RebuildRefused

    if not args.yes:
        raise SystemExit(
            "stockline rebuild replaces the live ledger in Redis with one recomputed from the "
            "input topics; stop the workers, then run it again with --yes"
        )
    try:
        plans = planner(settings)
    except NetworkFileError as exc:
        raise SystemExit(f"stockline: {exc}") from exc
    _check_redis(settings)
    bar = _rebuild_bar()

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    async def run() -> object:
        redis = redis_client(settings)
        try:
            return await rebuild(settings, redis, plans, progress)
        finally:
            await redis.aclose()

    try:
        report = asyncio.run(_reachable_kafka(settings, run()))
    except RebuildRefused as exc:
        raise SystemExit(f"stockline rebuild: {exc}") from exc
    finally:
        bar.close()
    print(report)
    return 0


def _rebuild_bar() -> Any:
    """A tqdm bar on stderr; without the tools extra (as in the worker image), plain lines."""
    try:
        from tqdm import tqdm
    except ModuleNotFoundError:
        return _RebuildLines()
    return tqdm(desc="rebuild", unit="ev", file=sys.stderr)


class _RebuildLines:
    """What `_rebuild` uses of a tqdm bar (`total`, `n`, `update`, `close`), as plain lines
    on stderr: one at most every `every_s`, and the last one on close."""

    def __init__(self, every_s: float = 5.0) -> None:
        self.total, self.n = 0, 0
        self._every_s, self._last = every_s, time.monotonic()

    def update(self, n: int) -> None:
        self.n += n
        if time.monotonic() - self._last >= self._every_s:
            self._last = time.monotonic()
            self.close()

    def close(self) -> None:
        print(f"rebuild: {self.n:,}/{self.total:,} events", file=sys.stderr)


def _dev(settings: Settings, args: argparse.Namespace) -> int:
    import subprocess

    script = Path(__file__).resolve().parents[2] / "deploy" / "local" / "stack.sh"
    if not script.exists():
        raise SystemExit(
            f"stockline dev: {script} not found; the local stack comes with a source checkout"
        )
    extra = ["--redis-cluster"] if args.redis_cluster else []
    return subprocess.run([str(script), args.action, *extra], check=False).returncode


_LOGLEVEL = "how much the process logs to stderr"


class _Help(argparse.HelpFormatter):
    """Shows an option's default when it has a meaningful one (not None, not a flag)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if action.default not in (None, False, argparse.SUPPRESS) and action.option_strings:
            text += " (default: %(default)s)"
        return text


def _command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, *, help: str
) -> argparse.ArgumentParser:
    """A subcommand whose own --help repeats what it does and shows each option's default."""
    return sub.add_parser(name, help=help, description=help, formatter_class=_Help)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 64:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to 64, got {text!r}")
    return value


def _cores() -> int:
    """Cores this process may run on (its CPU affinity, so a cpuset is respected)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stockline",
        description="Inventory visibility: fold warehouse and order events from Kafka into a "
        "per-node stock ledger in Redis and publish available-to-promise. "
        "Settings come from STOCKLINE_* environment variables (see README).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _command(
        sub, "topics", help="create the input, ATP, DLQ and signal topics (idempotent)"
    ).set_defaults(run=_topics)
    worker = _command(
        sub, "worker", help="run a ledger worker (joins the consumer group; run more to scale out)"
    )
    worker.add_argument(
        "--loglevel", default="warning", choices=["debug", "info", "warning"], help=_LOGLEVEL
    )
    worker.add_argument(
        "--processes",
        type=_positive,
        default=1,
        help="worker processes on this machine, sharing the group's partitions; each serves "
        "/metrics on WEB_PORT + its number",
    )
    worker.set_defaults(run=_worker)
    api = _command(
        sub,
        "api",
        help="serve the HTTP read API (availability, node stock, /metrics): uvicorn on uvloop "
        "and httptools, one process per worker; SIGTERM drains requests in flight",
    )
    api.add_argument(
        "--workers",
        type=int,
        default=_cores(),
        help="worker processes (default: the cores this process may run on)",
    )
    api.add_argument(
        "--loglevel", default="warning", choices=["debug", "info", "warning"], help=_LOGLEVEL
    )
    api.set_defaults(run=_api)
    demo = _command(
        sub, "demo", help="publish a short story of events for one SKU and print ATP as it changes"
    )
    demo.add_argument("--sku", default="SKU-DEMO-1", help="the SKU the story is about")
    demo.set_defaults(run=_demo)
    dev = _command(
        sub,
        "dev",
        help="the local stack without Docker: a real Kafka broker from Maven Central jars and "
        "Debian's redis-server on 127.0.0.1 (installs what is missing)",
    )
    dev.add_argument(
        "action",
        choices=["up", "down", "status"],
        help="up: install what is missing and start (or reuse) both; down: stop them; "
        "status: whether each answers",
    )
    dev.add_argument(
        "--redis-cluster",
        action="store_true",
        help="up: also a Redis Cluster of 3 primaries and 3 replicas on 127.0.0.1:7001-7006; "
        "down: stop only that cluster",
    )
    dev.set_defaults(run=_dev)
    rebuild = _command(
        sub,
        "rebuild",
        help="recompute the Redis ledger from the input topics (disaster recovery): replays "
        "them into fresh keys, then swaps those in; run with the workers stopped",
    )
    rebuild.add_argument("--yes", action="store_true", help="really replace the live ledger")
    rebuild.set_defaults(run=_rebuild)
    bench = _command(
        sub,
        "bench",
        help="measure a worker on the real broker: sustained events/s against a naive and a "
        "bare consumer, event-to-ATP latency at half peak, CPU per event of the worker, Redis "
        "and the broker, Redis commands per event, RSS",
    )
    bench.add_argument("--events", type=int, default=1_000_000, help="backlog size")
    bench.add_argument("--skus", type=int, default=10_000, help="SKUs the events spread over")
    bench.add_argument("--nodes", type=int, default=20, help="nodes the events spread over")
    bench.add_argument(
        "--warmup-seconds",
        type=float,
        default=10.0,
        help="events offered at half peak before latency is measured",
    )
    bench.add_argument(
        "--latency-seconds",
        type=float,
        default=20.0,
        help="how long latency is measured at half peak, after the warm-up",
    )
    bench.add_argument(
        "--processes",
        type=_positive,
        default=1,
        help="worker processes (`stockline worker --processes N`) folding the backlog",
    )
    bench.add_argument(
        "--out", type=Path, default=Path("out/bench"), help="where bench.json and bench.png go"
    )
    bench.set_defaults(run=_bench)
    _add_simulate(sub)
    return parser


def _add_simulate(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sim = _command(
        sub,
        "simulate",
        help="a WMS/OMS stand-in: events at a rate (open loop), or days acting on stockline's "
        "signals with a KPI report (--closed-loop, --compare); see docs/simulation.md",
    )
    sim.add_argument("--network", default="deploy/network/example.yaml", help="network file")
    sim.add_argument("--seed", type=int, default=7, help="same seed, same events")
    sim.add_argument("--tag", help="names this run's SKUs and ids (default: seed + random)")
    sim.add_argument("--skus", type=int, default=40, help="SKUs in the catalogue")
    sim.add_argument(
        "--requests-per-day", type=float, default=800.0, help="customer order lines per day"
    )
    sim.add_argument("--rate", type=float, default=200.0, help="open loop: events per second")
    sim.add_argument("--events", type=int, help="open loop: stop after this many events")
    sim.add_argument("--seconds", type=float, help="open loop: stop after this long (60)")
    sim.add_argument("--closed-loop", action="store_true", help="act on stockline's signals")
    sim.add_argument(
        "--days",
        type=int,
        help="closed loop: simulated days (default: the longest supplier lead time + 21)",
    )
    sim.add_argument(
        "--warmup-days",
        type=int,
        help="days left out of the headline KPIs (default: the longest supplier lead time)",
    )
    sim.add_argument(
        "--in-memory",
        action="store_true",
        help="closed loop in this process: stockline's pipeline on the in-memory store, "
        "no broker or Redis",
    )
    sim.add_argument("--day-seconds", type=float, default=0.0, help="least real s per day")
    sim.add_argument("--compare", nargs=2, metavar="POLICY", help="two network files, closed loop")
    sim.add_argument(
        "--use-running-worker",
        action="store_true",
        help="closed loop against the STOCKLINE_* topics and their workers, not a sandbox",
    )
    sim.add_argument("--report", metavar="DIR", help="write kpi.json and kpi.png here")
    sim.set_defaults(run=_simulate)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = Settings()
    return int(args.run(settings, args))


if __name__ == "__main__":
    sys.exit(main())
