"""`stockline api` as deployed, on the real Redis: worker processes whose /metrics add up,
HTTP caching over the wire, and a SIGTERM that lets a request in flight finish."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.mmap_dict import MmapedDict
from redis.asyncio import Redis

from stockline.adapters.redis.keys import Keys
from stockline.adapters.redis.store import RedisLedgerStore
from stockline.domain.events import Receipt
from stockline.service_layer.ports import Delivery
from tests.conftest import Stack
from tests.integration.harness import free_port
from tests.integration.live_api import wait_healthy

pytestmark = pytest.mark.redis

TOKEN = "server-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SKU_ROUTE = 'route="/v1/availability/{sku}"'


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    url: str
    port: int
    log: Path
    metrics_dir: Path


async def receive(redis_url: str, keys: Keys, sku: str, qty: int, offset: int) -> None:
    """One receipt at DC-1, written by the worker's store adapter."""
    redis = Redis.from_url(redis_url, decode_responses=True)
    store = RedisLedgerStore(redis, keys=keys, retention_us=7 * 86_400 * 10**6)
    now = time.time_ns() // 1000
    event = Receipt(f"r-{sku}-{offset}", now, "t", "DC-1", sku, qty=qty)
    result = await store.apply([Delivery(event, "seed", 0, offset)], now)
    indexed = [(c.sku, n.node_id) for c in result.changes for n in c.nodes if n.new]
    await store.record_progress({("seed", 0): offset}, indexed)
    await redis.aclose()


@pytest.fixture
def start(stack: Stack, keys: Keys, tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Starts `stockline api --workers N` for this test's keys; stops what is left."""
    started: list[Server] = []

    def run(workers: int, **env: str) -> Server:
        port = free_port()
        log = tmp_path / f"api-{port}.log"
        metrics_dir = tmp_path / f"metrics-{port}"
        environ = {k: v for k, v in os.environ.items() if not k.startswith("STOCKLINE_")}
        environ |= {
            "STOCKLINE_REDIS_URL": stack.redis_url,
            "STOCKLINE_KEY_PREFIX": keys.prefix,
            "STOCKLINE_API_PORT": str(port),
            "STOCKLINE_API_TOKENS": f'["{TOKEN}"]',
            "STOCKLINE_API_READ_CACHE_MS": "0",
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
            **env,
        }
        cmd = [sys.executable, "-m", "stockline.cli", "api", "--workers", str(workers)]
        with log.open("ab") as out:
            cmd += ["--loglevel", "info"]
            proc = subprocess.Popen(cmd, env=environ, stdout=out, stderr=out)
        server = Server(proc, f"http://127.0.0.1:{port}", port, log, metrics_dir)
        started.append(server)
        wait_healthy(server.url, timeout=30)
        return server

    yield run
    for server in started:
        if server.proc.poll() is None:
            server.proc.terminate()
            server.proc.wait(timeout=30)


def fresh_get(url: str, **headers: str) -> httpx.Response:
    """A request on a connection of its own, so the kernel may hand it to any worker."""
    return httpx.get(url, headers={**AUTH, **headers, "Connection": "close"}, timeout=10)


def pids_with_metrics(server: Server) -> set[int]:
    """The worker processes that have counted a GET (every process writes its
    counter file at start: the reservation outcomes are exported at 0 from the start)."""
    served = set()
    for path in server.metrics_dir.glob("counter_*.db"):
        samples = MmapedDict.read_all_values_from_file(str(path))  # type: ignore[no-untyped-call]
        for key, value, *_ in samples:
            metric, _, labels, _ = json.loads(key)
            if metric == "stockline_http_requests" and labels.get("method") == "GET" and value:
                served.add(int(path.stem.split("_")[-1]))
    return served


def children(pid: int) -> set[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return {int(p) for p in text.split()}


def test_workers_serve_one_port_and_metrics_add_up_across_them(
    start: Callable[..., Server], stack: Stack, keys: Keys
) -> None:
    asyncio.run(receive(stack.redis_url, keys, "SKU-M", 5, 0))
    server = start(workers=2)
    url = f"{server.url}/v1/availability/SKU-M"
    served = 0
    while len(pids_with_metrics(server)) < 2 and served < 500:
        assert fresh_get(url).status_code == 200
        served += 1
    assert len(pids_with_metrics(server)) == 2, "both workers served"
    assert pids_with_metrics(server) <= children(server.proc.pid)
    line = f'stockline_http_requests_total{{method="GET",{SKU_ROUTE},status="2xx"}} {served}.0'
    for _ in range(6):  # whichever worker answers the scrape reports the whole server
        assert line in fresh_get(f"{server.url}/metrics").text
        assert fresh_get(f"{server.url}/readyz").json() == {"status": "ready"}


def test_http_caching_over_the_wire(start: Callable[..., Server], stack: Stack, keys: Keys) -> None:
    asyncio.run(receive(stack.redis_url, keys, "SKU-E", 5, 0))
    server = start(workers=1, STOCKLINE_API_CACHE_MAX_AGE_S="60")
    url = f"{server.url}/v1/availability/SKU-E"
    first = fresh_get(url)
    etag = f'"{first.json()["version"]}"'
    assert (first.headers["ETag"], first.headers["Cache-Control"]) == (etag, "max-age=60")
    not_modified = fresh_get(url, **{"If-None-Match": etag})
    assert (not_modified.status_code, not_modified.content) == (304, b"")
    assert not_modified.headers["ETag"] == etag
    head = httpx.head(url, headers=AUTH)
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["Content-Length"] == first.headers["Content-Length"]
    asyncio.run(receive(stack.redis_url, keys, "SKU-E", 3, 1))
    changed = fresh_get(url, **{"If-None-Match": etag})
    assert changed.status_code == 200
    assert int(changed.headers["ETag"].strip('"')) > int(etag.strip('"'))  # a newer version
    assert changed.json()["nodes"]["DC-1"]["on_hand"] == 8


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_lets_a_request_in_flight_finish_then_exits_0(
    start: Callable[..., Server], stack: Stack, keys: Keys, workers: int
) -> None:
    asyncio.run(receive(stack.redis_url, keys, "SKU-S", 5, 0))
    server = start(workers=workers)
    body = b'{"skus": ["SKU-S", "SKU-NONE"]}'
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as conn:
        conn.sendall(
            b"POST /v1/availability/batch HTTP/1.1\r\nHost: api\r\n"
            b"Authorization: Bearer " + TOKEN.encode() + b"\r\n"
            b"Content-Type: application/json\r\nExpect: 100-continue\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)
        )
        assert b"100 Continue" in conn.recv(1024)  # the app is reading the body: in flight
        server.proc.send_signal(signal.SIGTERM)
        wait_for_log(server.log, "Waiting for connections to close")
        conn.sendall(body)
        answer = read_until_closed(conn)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b'"not_found":["SKU-NONE"]' in answer
    assert server.proc.wait(timeout=30) == 0
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{server.url}/healthz", timeout=2)


def wait_for_log(log: Path, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text(errors="replace"):
        assert time.monotonic() < deadline, f"{text!r} not logged within {timeout} s"
        time.sleep(0.05)


def read_until_closed(conn: socket.socket) -> bytes:
    chunks = []
    while chunk := conn.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)
