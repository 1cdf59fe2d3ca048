"""Load the read API on loopback and compare it with Redis' own GET rate, in one run.

    .venv/bin/python deploy/bench/api_bench.py [--seconds 10] [--concurrency 64]

Seeds SKUs under a key prefix of its own (deleted at the end), starts `stockline api` as
a subprocess (one uvicorn process, as deployed), drives it from client processes for
single and batch lookups, runs `redis-benchmark -t get` against the same Redis, and
prints requests/s and p50/p99 latency for each, with the API/Redis ratio. A measurement,
not a test: figures depend on the machine; nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import multiprocessing
import os
import random
import shutil
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from statistics import quantiles
from urllib.parse import urlparse

import httpx
from redis.asyncio import Redis

from stockline.adapters.redis.keys import Keys
from stockline.adapters.redis.store import RedisLedgerStore
from stockline.domain.events import Receipt
from stockline.service_layer.ports import Delivery

NODES = ("DC-1", "DC-2", "MFC-1", "STORE-1")


@dataclass
class Result:
    name: str
    rate: float
    """Requests per second."""
    p50_ms: float
    p99_ms: float
    skus_per_request: int = 1

    @classmethod
    def of(cls, name: str, latencies_ms: list[float], seconds: float, size: int) -> Result:
        cuts = quantiles(latencies_ms, n=100)
        return cls(name, len(latencies_ms) / seconds, cuts[49], cuts[98], size)


async def seed(redis_url: str, keys: Keys, skus: int) -> list[str]:
    """`skus` SKUs, each stocked at every node, written by the worker's store adapter."""
    redis = Redis.from_url(redis_url, decode_responses=True)
    store = RedisLedgerStore(redis, keys=keys, retention_us=7 * 86_400 * 10**6)
    names = [f"BENCH-{n:06d}" for n in range(skus)]
    now = time.time_ns() // 1000
    offset = 0  # one running offset: the store skips offsets its SKU's shard already applied
    for start in range(0, skus, 500):
        chunk = names[start : start + 500]
        events = [
            Receipt(f"{sku}-{node}", now, "bench", node, sku, qty=10 + n)
            for n, sku in enumerate(chunk)
            for node in NODES
        ]
        deliveries = [Delivery(e, "bench", 0, offset + i) for i, e in enumerate(events)]
        offset += len(events)
        result = await store.apply(deliveries, now)
        indexed = [(c.sku, n.node_id) for c in result.changes for n in c.nodes if n.new]
        await store.record_progress({}, indexed)
    await redis.aclose()
    return names


async def clean(redis_url: str, keys: Keys) -> None:
    redis = Redis.from_url(redis_url, decode_responses=True)
    async for key in redis.scan_iter(match=f"{keys.prefix}:*", count=1000):
        await redis.unlink(key)
    await redis.aclose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_api(redis_url: str, prefix: str, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOCKLINE_")}
    env |= {
        "STOCKLINE_REDIS_URL": redis_url,
        "STOCKLINE_KEY_PREFIX": prefix,
        "STOCKLINE_API_PORT": str(port),
        "STOCKLINE_API_TOKENS": '["bench-token"]',
    }
    cmd = [sys.executable, "-m", "stockline.cli", "api"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the API did not become ready within 30 s")


async def drive(
    url: str, mode: str, skus: list[str], batch: int, tasks: int, until: float
) -> list[float]:
    """`tasks` concurrent request loops until the deadline; returns latencies in ms."""
    latencies: list[float] = []
    headers = {"Authorization": "Bearer bench-token"}
    limits = httpx.Limits(max_connections=tasks, max_keepalive_connections=tasks)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits) as client:

        async def loop(rng: random.Random) -> None:
            while time.monotonic() < until:
                started = time.perf_counter()
                if mode == "single":
                    response = await client.get(f"/v1/availability/{rng.choice(skus)}")
                else:
                    body = {"skus": rng.sample(skus, batch)}
                    response = await client.post("/v1/availability/batch", json=body)
                if response.status_code != 200:
                    raise SystemExit(f"{mode}: HTTP {response.status_code} {response.text}")
                latencies.append((time.perf_counter() - started) * 1000)

        await asyncio.gather(*(loop(random.Random(n)) for n in range(tasks)))
    return latencies


def client_process(args: tuple[str, str, list[str], int, int, float]) -> list[float]:
    return asyncio.run(drive(*args))


def load(url: str, mode: str, skus: list[str], opts: argparse.Namespace) -> Result:
    per_proc = max(1, opts.concurrency // opts.client_procs)
    warm_until = time.monotonic() + 1
    asyncio.run(drive(url, mode, skus, opts.batch, 4, warm_until))
    started = time.monotonic()
    until = started + opts.seconds
    jobs = [(url, mode, skus, opts.batch, per_proc, until)] * opts.client_procs
    with multiprocessing.get_context("spawn").Pool(opts.client_procs) as pool:
        parts = pool.map(client_process, jobs)
    elapsed = time.monotonic() - started
    latencies = [x for part in parts for x in part]
    size = 1 if mode == "single" else opts.batch
    return Result.of(f"API {mode}", latencies, elapsed, size)


def redis_benchmark(redis_url: str, opts: argparse.Namespace) -> Result:
    """redis-benchmark GET with the same number of concurrent clients, no pipelining."""
    tool = shutil.which("redis-benchmark")
    if tool is None:
        raise SystemExit("redis-benchmark not found (Debian: apt-get install redis-tools)")
    parsed = urlparse(redis_url)
    cmd = [
        tool, "-h", parsed.hostname or "127.0.0.1", "-p", str(parsed.port or 6379),
        "-t", "get", "-n", str(opts.redis_requests), "-c", str(opts.concurrency), "--csv",
    ]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    row = next(csv.DictReader(io.StringIO(out)))
    return Result(
        "redis-benchmark GET",
        float(row["rps"]),
        float(row["p50_latency_ms"]),
        float(row["p99_latency_ms"]),
    )


def table(results: list[Result], ceiling: Result) -> str:
    head = (
        f"{'scenario':<22}{'req/s':>10}{'SKUs/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'vs Redis GET':>14}"
    )
    rows = [head, "-" * len(head)]
    for r in [*results, ceiling]:
        rows.append(
            f"{r.name:<22}{r.rate:>10.0f}{r.rate * r.skus_per_request:>10.0f}"
            f"{r.p50_ms:>9.2f}{r.p99_ms:>9.2f}{r.rate / ceiling.rate:>13.1%}"
        )
    return "\n".join(rows)


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--redis-url", default=os.environ.get("STOCKLINE_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    p.add_argument("--seconds", type=float, default=10, help="load time per scenario")
    p.add_argument("--concurrency", type=int, default=64, help="concurrent requests in flight")
    p.add_argument("--client-procs", type=int, default=4, help="client processes sharing them")
    p.add_argument("--skus", type=int, default=10_000, help="SKUs seeded")
    p.add_argument("--batch", type=int, default=100, help="SKUs per batch request")
    p.add_argument("--redis-requests", type=int, default=200_000)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    opts = parse(argv)
    keys = Keys(f"bench-{uuid.uuid4().hex[:8]}")
    skus = asyncio.run(seed(opts.redis_url, keys, opts.skus))
    port = free_port()
    api = start_api(opts.redis_url, keys.prefix, port)
    try:
        url = f"http://127.0.0.1:{port}"
        results = [load(url, mode, skus, opts) for mode in ("single", "batch")]
        ceiling = redis_benchmark(opts.redis_url, opts)
    finally:
        api.terminate()
        api.wait(timeout=30)
        asyncio.run(clean(opts.redis_url, keys))
    print(
        f"{opts.skus} SKUs x {len(NODES)} nodes; {opts.concurrency} concurrent clients in "
        f"{opts.client_procs} processes; batch = {opts.batch} SKUs; {opts.seconds:.0f} s each; "
        f"{os.cpu_count()} CPUs"
    )
    print(table(results, ceiling))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
