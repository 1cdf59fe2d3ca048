"""Load the reservation API (`POST /v1/reservations`) on loopback with wrk, then check that
nothing was promised twice.

    .venv/bin/python deploy/bench/holds_bench.py [--workers N] [--seconds 15] [--repeat 3]

Seeds `--skus` SKUs with `--units` units at each of `--nodes` nodes (through the worker's
store adapter, under a key prefix of its own; deleted at the end), creates a reservations
topic of its own on the broker (deleted at the end), starts `stockline api --workers N`
with a bearer token, and runs wrk (`-t2 -c64` by default): every request is a new
reservation of one unit of a random SKU at the first of the SKU's nodes that covers it,
so it is answered 201 (held, with its hold_placed acknowledged by Kafka, acks=all) or 409
(every candidate sold out). Prints holds/s, p50/p99 of the POST, the 201/409/other
counts, and the check over the ledger afterwards: per (sku, node) `held <= on_hand`
(oversold = 0), and held units in total = 201 answers (no answered hold lost).
Figures go to `--out` (JSON). A measurement, not a test: nothing here passes or fails.
Progress goes to stderr; the table to stdout. Needs wrk (deploy/local/setup.sh installs it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from aiokafka.admin import NewTopic
from api_bench import LOOPBACK, TOKEN, clean, free_port, redis_of, start_api, stop_api

from stockline.adapters.clients import kafka_admin
from stockline.adapters.redis.keys import Keys
from stockline.adapters.redis.store import RedisLedgerStore
from stockline.domain.events import Receipt
from stockline.service_layer.ports import Delivery
from stockline.settings import Settings

RETENTION_US = 7 * 86_400 * 10**6

# Every request a new reservation id (wrk run, thread number and a counter), one unit of a random
# SKU, all of its nodes as candidates; answers counted per status in each thread.
WRK_SCRIPT = """
local skus = {%(skus)s}
local nodes = '%(nodes)s'
local threads, counter, n = {}, 0, 0
function setup(thread)
  n = n + 1
  thread:set('tid', n)
  table.insert(threads, thread)
end
function init(args)
  created, refused, other = 0, 0, 0
  math.randomseed(os.time() * 100 + tid)
end
request = function()
  counter = counter + 1
  local sku = skus[math.random(#skus)]
  local body = string.format(
    '{"reservation_id":"%(run)s-%%d-%%d","lines":[{"sku":"%%s","qty":1,"nodes":%%s}]}',
    tid, counter, sku, nodes)
  return wrk.format('POST', '/v1/reservations', {
    ['Authorization'] = 'Bearer %(token)s', ['Content-Type'] = 'application/json'}, body)
end
response = function(status, headers, body)
  if status == 201 then created = created + 1
  elseif status == 409 then refused = refused + 1
  else other = other + 1 end
end
done = function(summary, latency, requests)
  local c, r, o = 0, 0, 0
  for _, t in ipairs(threads) do
    c = c + t:get('created'); r = r + t:get('refused'); o = o + t:get('other')
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %%d, "duration_us": %%d, "errors": %%d, "p50_us": %%d, '
    .. '"p99_us": %%d, "max_us": %%d, "created": %%d, "refused": %%d, "other": %%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max, c, r, o))
end
"""


def say(message: str) -> None:
    print(f"[holds-bench] {message}", file=sys.stderr, flush=True)


@dataclass
class Run:
    holds_per_s: float
    """Answers per second (201 and 409 alike: each is one decision)."""
    p50_ms: float
    p99_ms: float
    max_ms: float
    created: int
    refused: int
    other: int
    errors: int


async def seed(redis_url: str, keys: Keys, skus: int, nodes: int, units: int) -> list[str]:
    redis = redis_of(redis_url)
    store = RedisLedgerStore(redis, keys=keys, retention_us=RETENTION_US)
    names = [f"HOLD-{n:05d}" for n in range(skus)]
    now = time.time_ns() // 1000
    events = [
        Receipt(f"{sku}-{n}", now, "bench", f"NODE-{n:02d}", sku, units)
        for sku in names
        for n in range(nodes)
    ]
    for start in range(0, len(events), 2000):
        chunk = events[start : start + 2000]
        deliveries = [Delivery(e, "bench", 0, start + i) for i, e in enumerate(chunk)]
        result = await store.apply(deliveries, now)
        indexed = [(c.sku, n.node_id) for c in result.changes for n in c.nodes if n.new]
        await store.record_progress({}, indexed)
    await redis.aclose()
    return names


async def audit(redis_url: str, keys: Keys, skus: list[str]) -> tuple[int, int, int]:
    """(units held in total, (sku, node) ledgers holding more than they have, their excess)."""
    redis = redis_of(redis_url)
    store = RedisLedgerStore(redis, keys=keys, retention_us=RETENTION_US)
    held = oversold = excess = 0
    for sku in skus:
        snapshot = await store.snapshot(sku)
        for stock in snapshot.nodes.values() if snapshot else ():
            held += stock.held
            over = stock.held + stock.reserved - stock.on_hand
            if over > 0:
                oversold, excess = oversold + 1, excess + over
    await redis.aclose()
    return held, oversold, excess


async def topic(bootstrap: str, name: str, *, create: bool) -> None:
    admin = kafka_admin(Settings(kafka_bootstrap=bootstrap))
    await admin.start()
    try:
        if create:
            await admin.create_topics([NewTopic(name, num_partitions=6, replication_factor=1)])
        else:
            await admin.delete_topics([name])
    finally:
        await admin.close()


def wrk(url: str, script: Path, opts: argparse.Namespace, seconds: float) -> Run:
    cmd = [
        opts.wrk, f"-t{opts.threads}", f"-c{opts.connections}", f"-d{seconds:g}s",
        "--timeout", "5s", "-s", str(script), url,
    ]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=seconds + 60)
    line = next(x for x in out.stdout.splitlines() if x.startswith("WRK_JSON "))
    r = json.loads(line.removeprefix("WRK_JSON "))
    return Run(
        r["requests"] / (r["duration_us"] / 1e6),
        r["p50_us"] / 1000,
        r["p99_us"] / 1000,
        r["max_us"] / 1000,
        r["created"],
        r["refused"],
        r["other"],
        r["errors"],
    )


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--redis-url", default=os.environ.get("STOCKLINE_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    p.add_argument(
        "--kafka-bootstrap", default=os.environ.get("STOCKLINE_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    )
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="API processes")
    p.add_argument("--seconds", type=float, default=15, help="wrk duration per run")
    p.add_argument("--repeat", type=int, default=1, help="runs; the best counts")
    p.add_argument("--threads", type=int, default=2, help="wrk threads")
    p.add_argument("--connections", type=int, default=64, help="wrk connections")
    p.add_argument("--skus", type=int, default=1000, help="SKUs seeded")
    p.add_argument("--nodes", type=int, default=2, help="nodes each SKU is stocked at")
    p.add_argument("--units", type=int, default=100, help="units of each SKU at each node")
    p.add_argument("--wrk", default=shutil.which("wrk") or "wrk", help="the wrk binary")
    p.add_argument("--out", type=Path, default=Path("out/bench/holds_bench.json"))
    opts = p.parse_args(argv)
    if urlparse(opts.redis_url).hostname not in LOOPBACK:
        p.error("the bench runs on loopback only: --redis-url must name 127.0.0.1")
    if shutil.which(opts.wrk) is None:
        p.error("wrk not found (deploy/local/setup.sh installs Debian's wrk)")
    return opts


def main(argv: list[str] | None = None) -> int:
    opts = parse(argv)
    run_id = uuid.uuid4().hex[:8]
    keys = Keys(f"bench-{run_id}")
    reservations = f"bench.reservations.{run_id}"
    say(f"seeding {opts.skus} SKUs x {opts.nodes} nodes x {opts.units} units under {keys.prefix}:*")
    skus = asyncio.run(seed(opts.redis_url, keys, opts.skus, opts.nodes, opts.units))
    asyncio.run(topic(opts.kafka_bootstrap, reservations, create=True))
    port = free_port()
    inputs = [t for t in Settings().input_topics if t != Settings().reservations_topic]
    extra = {
        "STOCKLINE_KAFKA_BOOTSTRAP": opts.kafka_bootstrap,
        "STOCKLINE_RESERVATIONS_TOPIC": reservations,
        "STOCKLINE_INPUT_TOPICS": json.dumps([*inputs, reservations]),
    }
    runs: list[Run] = []
    try:
        with tempfile.TemporaryDirectory(prefix="holds-bench-") as scratch:
            nodes = json.dumps([f"NODE-{n:02d}" for n in range(opts.nodes)])
            names = ",".join(f"'{s}'" for s in skus)

            def script(k: int) -> Path:
                """The wrk script of run k (its reservation ids are its own)."""
                path = Path(scratch) / f"holds-{k}.lua"
                values = {"skus": names, "nodes": nodes, "run": f"{run_id}-{k}", "token": TOKEN}
                path.write_text(WRK_SCRIPT % values, encoding="utf-8")
                return path

            say(f"starting stockline api --workers {opts.workers} on 127.0.0.1:{port}")
            api = start_api(opts.redis_url, keys.prefix, port, opts, extra=extra)
            try:
                url = f"http://127.0.0.1:{port}"
                warm = wrk(url, script(0), opts, 2)
                for n in range(opts.repeat):
                    runs.append(wrk(url, script(n + 1), opts, opts.seconds))
                    r = runs[-1]
                    say(
                        f"run {n + 1}/{opts.repeat}: {r.holds_per_s:,.0f} holds/s, "
                        f"p99 {r.p99_ms:.1f} ms, 201 {r.created:,}, 409 {r.refused:,}, "
                        f"other {r.other}"
                    )
            finally:
                stop_api(api)
        created = warm.created + sum(r.created for r in runs)
        say("auditing the ledger")
        held, oversold, excess = asyncio.run(audit(opts.redis_url, keys, skus))
    finally:
        asyncio.run(clean(opts.redis_url, keys))
        asyncio.run(topic(opts.kafka_bootstrap, reservations, create=False))
    best = max(runs, key=lambda r: r.holds_per_s)
    print(
        f"stockline api --workers {opts.workers}; POST /v1/reservations, 1 line of 1 unit; "
        f"{opts.skus} SKUs x {opts.nodes} nodes x {opts.units} units; "
        f"wrk -t{opts.threads} -c{opts.connections} {opts.seconds:g} s, best of {opts.repeat}; "
        f"{os.cpu_count()} CPUs"
    )
    print(f"{'holds/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'201':>9}{'409':>9}{'other':>7}")
    print(
        f"{best.holds_per_s:>10.0f}{best.p50_ms:>9.2f}{best.p99_ms:>9.2f}{best.max_ms:>9.1f}"
        f"{best.created:>9}{best.refused:>9}{best.other:>7}"
    )
    print(
        f"ledger afterwards: {held:,} units held for {created:,} answers 201 (warm-up "
        f"included); answered but not held: {max(0, created - held):,}; held beyond the "
        f"answers: {max(0, held - created):,} (requests in flight when wrk stopped, at most "
        f"{opts.connections * (opts.repeat + 1):,}); oversold (sku, node): {oversold} "
        f"({excess} units)"
    )
    figures: dict[str, Any] = {
        "holds_per_s": round(best.holds_per_s, 1),
        "post_p50_ms": round(best.p50_ms, 3),
        "post_p99_ms": round(best.p99_ms, 3),
        "oversold_ledgers": oversold,
        "oversold_units": excess,
        "units_held": held,
        "answered_201": created,
        "answered_not_held": max(0, created - held),
        "runs": [asdict(r) for r in runs],
        "setup": {
            "workers": opts.workers,
            "skus": opts.skus,
            "nodes": opts.nodes,
            "units": opts.units,
            "wrk": f"-t{opts.threads} -c{opts.connections} -d{opts.seconds:g}s",
            "repeat": opts.repeat,
            "cpus": os.cpu_count(),
        },
    }
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    opts.out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    say(f"figures written to {opts.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
