"""Load the read API on loopback with wrk and compare it with Redis' own GET rate, in one run.

    .venv/bin/python deploy/bench/api_bench.py [--workers N] [--seconds 15] [--repeat 3]

Seeds SKUs at `--nodes` nodes each under a key prefix of its own (through the worker's
store adapter; deleted at the end), starts `stockline api --workers N` with a bearer token
on, runs wrk (`-t2 -c64` by default) for a single-SKU GET and for a batch POST of
`--batch` SKUs, runs `redis-benchmark -t get` against the same Redis with as many
clients, prints requests/s and latency for each with the API/Redis ratio, and writes
`single_get_per_s`, `single_get_p99_ms`, `batch100_per_s`, `redis_get_per_s` (and more)
to `--out`. With `--repeat`, each scenario runs that many times and the best run counts.
A measurement, not a test: figures depend on the machine; nothing here passes or fails.
Progress goes to stderr; the table to stdout. Needs wrk and redis-benchmark
(deploy/local/setup.sh installs both from Debian).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
from redis.asyncio import Redis, RedisCluster

from stockline.adapters.clients import redis_client
from stockline.adapters.redis.keys import Keys
from stockline.adapters.redis.store import RedisLedgerStore
from stockline.domain.events import Receipt
from stockline.service_layer.ports import Delivery
from stockline.settings import Settings

TOKEN = "bench-token"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
WRK_REPORT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK_JSON {\\"requests\\": %d, \\"duration_us\\": %d, \\"errors\\": %d, "
    .. "\\"p50_us\\": %d, \\"p99_us\\": %d, \\"max_us\\": %d}\\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def say(message: str) -> None:
    print(f"[api-bench] {message}", file=sys.stderr, flush=True)


@dataclass
class Result:
    name: str
    rate: float
    """Requests per second."""
    p50_ms: float
    p99_ms: float
    skus_per_request: int = 1
    errors: int = 0


def redis_of(redis_url: str) -> Redis | RedisCluster:
    """A client of the Redis the bench seeds, made as every stockline process makes one."""
    return redis_client(Settings(redis_url=redis_url))


async def seed(redis_url: str, keys: Keys, skus: int, nodes: int) -> list[str]:
    """`skus` SKUs, each stocked at `nodes` nodes, written by the worker's store adapter."""
    redis = redis_of(redis_url)
    store = RedisLedgerStore(redis, keys=keys, retention_us=7 * 86_400 * 10**6)
    names = [f"BENCH-{n:06d}" for n in range(skus)]
    node_ids = [f"NODE-{n:02d}" for n in range(nodes)]
    now = time.time_ns() // 1000
    offset = 0  # one running offset: the store skips offsets its SKU's shard already applied
    per_call = max(1, 2000 // nodes)
    for start in range(0, skus, per_call):
        chunk = names[start : start + per_call]
        events = [
            Receipt(f"{sku}-{node}", now, "bench", node, sku, qty=10 + n)
            for n, sku in enumerate(chunk)
            for node in node_ids
        ]
        deliveries = [Delivery(e, "bench", 0, offset + i) for i, e in enumerate(events)]
        offset += len(events)
        result = await store.apply(deliveries, now)
        indexed = [(c.sku, n.node_id) for c in result.changes for n in c.nodes if n.new]
        await store.record_progress({}, indexed)
    await redis.aclose()
    return names


async def clean(redis_url: str, keys: Keys) -> None:
    """Delete every key under the prefix of `keys`, a thousand at a time."""
    redis = redis_of(redis_url)
    try:
        batch = []
        async for key in redis.scan_iter(match=f"{keys.prefix}:*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                await redis.unlink(*batch)
                batch = []
        if batch:
            await redis.unlink(*batch)
    finally:
        await redis.aclose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_api(
    redis_url: str,
    prefix: str,
    port: int,
    opts: argparse.Namespace,
    *,
    extra: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """`stockline api` on loopback with the bench token; `extra` adds settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOCKLINE_")}
    env |= {
        "STOCKLINE_REDIS_URL": redis_url,
        "STOCKLINE_KEY_PREFIX": prefix,
        "STOCKLINE_API_HOST": "127.0.0.1",
        "STOCKLINE_API_PORT": str(port),
        "STOCKLINE_API_TOKENS": json.dumps([TOKEN]),
    }
    if getattr(opts, "read_cache_ms", None) is not None:
        env["STOCKLINE_API_READ_CACHE_MS"] = str(opts.read_cache_ms)
    env |= extra or {}
    cmd = [sys.executable, "-m", "stockline.cli", "api", "--workers", str(opts.workers)]
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


def stop_api(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wrk_script(directory: Path, name: str, *, body: str | None = None) -> Path:
    """A wrk Lua script: the bearer header, the batch POST body, and a JSON report line."""
    lines = [f'wrk.headers["Authorization"] = "Bearer {TOKEN}"']
    if body is not None:
        lines += [
            'wrk.method = "POST"',
            'wrk.headers["Content-Type"] = "application/json"',
            f"wrk.body = {json.dumps(body)}",
        ]
    path = directory / f"{name}.lua"
    path.write_text("\n".join(lines) + "\n" + WRK_REPORT, encoding="utf-8")
    return path


def wrk(url: str, script: Path, opts: argparse.Namespace) -> tuple[float, float, float, int]:
    """One wrk run: (requests/s, p50 ms, p99 ms, errors incl. non-2xx answers)."""
    cmd = [
        opts.wrk, f"-t{opts.threads}", f"-c{opts.connections}", f"-d{opts.seconds:g}s",
        "--timeout", "5s", "-s", str(script), url,
    ]  # fmt: skip
    out = subprocess.run(
        cmd, capture_output=True, text=True, check=True, timeout=opts.seconds + 60
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRK_JSON "))
    report = json.loads(line.removeprefix("WRK_JSON "))
    rate = report["requests"] / (report["duration_us"] / 1e6)
    return rate, report["p50_us"] / 1000, report["p99_us"] / 1000, int(report["errors"])


def best_of(name: str, url: str, script: Path, size: int, opts: argparse.Namespace) -> Result:
    """The fastest of `--repeat` runs (after a short warm-up), with its own latencies."""
    warm = argparse.Namespace(**{**vars(opts), "seconds": 2})
    wrk(url, script, warm)
    runs = []
    for n in range(opts.repeat):
        rate, p50, p99, errors = wrk(url, script, opts)
        say(f"{name} run {n + 1}/{opts.repeat}: {rate:,.0f} req/s, p99 {p99:.2f} ms")
        runs.append(Result(name, rate, p50, p99, size, errors))
    return max(runs, key=lambda r: r.rate)


def redis_benchmark(redis_url: str, opts: argparse.Namespace) -> Result:
    """redis-benchmark GET with as many concurrent clients as wrk's connections, no
    pipelining: the ceiling of one-request-per-round-trip service on this machine."""
    tool = shutil.which("redis-benchmark")
    if tool is None:
        raise SystemExit("redis-benchmark not found (Debian: apt-get install redis-tools)")
    parsed = urlparse(redis_url)
    runs = []
    for _ in range(opts.repeat):
        cmd = [
            tool, "-h", parsed.hostname or "127.0.0.1", "-p", str(parsed.port or 6379),
            "-t", "get", "-n", str(opts.redis_requests), "-c", str(opts.connections), "--csv",
        ]  # fmt: skip
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=300).stdout
        row = next(csv.DictReader(io.StringIO(out)))
        runs.append(
            Result(
                "redis-benchmark GET",
                float(row["rps"]),
                float(row["p50_latency_ms"]),
                float(row["p99_latency_ms"]),
            )
        )
        say(f"redis-benchmark GET: {runs[-1].rate:,.0f} req/s")
    return max(runs, key=lambda r: r.rate)


def table(results: list[Result], ceiling: Result) -> str:
    head = (
        f"{'scenario':<22}{'req/s':>10}{'SKUs/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'errors':>8}{'vs Redis GET':>14}"
    )
    rows = [head, "-" * len(head)]
    for r in [*results, ceiling]:
        rows.append(
            f"{r.name:<22}{r.rate:>10.0f}{r.rate * r.skus_per_request:>10.0f}"
            f"{r.p50_ms:>9.2f}{r.p99_ms:>9.2f}{r.errors:>8}{r.rate / ceiling.rate:>13.1%}"
        )
    return "\n".join(rows)


def figures(
    single: Result, batch: Result, ceiling: Result, opts: argparse.Namespace
) -> dict[str, Any]:
    return {
        "single_get_per_s": round(single.rate, 1),
        "single_get_p99_ms": round(single.p99_ms, 3),
        f"batch{opts.batch}_per_s": round(batch.rate, 1),
        f"batch{opts.batch}_p99_ms": round(batch.p99_ms, 3),
        "redis_get_per_s": round(ceiling.rate, 1),
        "single_to_redis_ratio": round(single.rate / ceiling.rate, 4),
        "runs": [asdict(r) for r in (single, batch, ceiling)],
        "setup": {
            "workers": opts.workers,
            "read_cache_ms": opts.read_cache_ms,
            "nodes_per_sku": opts.nodes,
            "skus": opts.skus,
            "batch": opts.batch,
            "wrk": f"-t{opts.threads} -c{opts.connections} -d{opts.seconds:g}s",
            "repeat": opts.repeat,
            "cpus": os.cpu_count(),
        },
    }


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--redis-url", default=os.environ.get("STOCKLINE_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="API processes")
    p.add_argument(
        "--read-cache-ms",
        type=int,
        help="STOCKLINE_API_READ_CACHE_MS for the API (default: the API's own, 250)",
    )
    p.add_argument("--seconds", type=float, default=15, help="wrk duration per run")
    p.add_argument("--repeat", type=int, default=1, help="runs per scenario; the best counts")
    p.add_argument("--threads", type=int, default=2, help="wrk threads")
    p.add_argument("--connections", type=int, default=64, help="wrk connections")
    p.add_argument("--skus", type=int, default=1000, help="SKUs seeded")
    p.add_argument("--nodes", type=int, default=20, help="nodes each SKU is stocked at")
    p.add_argument("--batch", type=int, default=100, help="SKUs per batch request")
    p.add_argument("--redis-requests", type=int, default=500_000)
    p.add_argument("--wrk", default=shutil.which("wrk") or "wrk", help="the wrk binary")
    p.add_argument("--out", type=Path, default=Path("out/bench/api_bench.json"))
    opts = p.parse_args(argv)
    if urlparse(opts.redis_url).hostname not in LOOPBACK:
        p.error("the bench runs on loopback only: --redis-url must name 127.0.0.1")
    if shutil.which(opts.wrk) is None:
        p.error("wrk not found (deploy/local/setup.sh installs Debian's wrk)")
    if opts.batch > opts.skus:
        p.error("--batch cannot exceed --skus")
    return opts


def run(opts: argparse.Namespace, skus: list[str], prefix: str, scratch: Path) -> list[Result]:
    port = free_port()
    say(f"starting stockline api --workers {opts.workers} on 127.0.0.1:{port}")
    api = start_api(opts.redis_url, prefix, port, opts)
    try:
        url = f"http://127.0.0.1:{port}"
        single_script = wrk_script(scratch, "single")
        batch_body = json.dumps({"skus": skus[: opts.batch]})
        batch_script = wrk_script(scratch, "batch", body=batch_body)
        single = best_of(
            "API single GET", f"{url}/v1/availability/{skus[0]}", single_script, 1, opts
        )
        batch = best_of(
            f"API batch of {opts.batch}",
            f"{url}/v1/availability/batch",
            batch_script,
            opts.batch,
            opts,
        )
    finally:
        stop_api(api)
    return [single, batch]


def main(argv: list[str] | None = None) -> int:
    opts = parse(argv)
    keys = Keys(f"bench-{uuid.uuid4().hex[:8]}")
    say(f"seeding {opts.skus} SKUs x {opts.nodes} nodes under {keys.prefix}:*")
    skus = asyncio.run(seed(opts.redis_url, keys, opts.skus, opts.nodes))
    try:
        with tempfile.TemporaryDirectory(prefix="api-bench-") as scratch:
            single, batch = run(opts, skus, keys.prefix, Path(scratch))
        say("redis-benchmark -t get")
        ceiling = redis_benchmark(opts.redis_url, opts)
    finally:
        asyncio.run(clean(opts.redis_url, keys))
    cache = "default" if opts.read_cache_ms is None else opts.read_cache_ms
    print(
        f"stockline api --workers {opts.workers}, bearer auth on, read cache {cache} ms; "
        f"{opts.skus} SKUs x "
        f"{opts.nodes} nodes; wrk -t{opts.threads} -c{opts.connections} {opts.seconds:g} s, "
        f"best of {opts.repeat}; batch = {opts.batch} SKUs; {os.cpu_count()} CPUs"
    )
    print(table([single, batch], ceiling))
    print(f"single GET / Redis GET = {single.rate / ceiling.rate:.3f}")
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    opts.out.write_text(json.dumps(figures(single, batch, ceiling, opts), indent=2) + "\n")
    say(f"wrote {opts.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
