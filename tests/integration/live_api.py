"""The API served for tests that need a live HTTP service: by uvicorn on a loopback port in
a background thread (schemathesis, the end-to-end API test), or as `stockline api`
processes of its own (several API processes at once)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn
from starlette.types import ASGIApp

from tests.integration.harness import World, free_port


@contextmanager
def serve(app: ASGIApp) -> Iterator[str]:
    """Serve `app` until the block ends; yields its base URL once it answers /healthz."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"api-{port}", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def wait_healthy(url: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise TimeoutError(f"the API at {url} did not answer /healthz within {timeout} s")


@contextmanager
def api_process(
    world: World, token: str, log: Path, *, workers: int = 2, timeout: float = 60
) -> Iterator[str]:
    """`stockline api --workers N` for `world` as processes of its own, on a free port with
    the bearer `token`, until the block ends (SIGTERM, then kill); yields its base URL once
    ready."""
    env = world.env(free_port()) | {
        "STOCKLINE_API_PORT": str(free_port()),
        "STOCKLINE_API_TOKENS": json.dumps([token]),
    }
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "stockline.cli", "api", "--workers", str(workers)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{env['STOCKLINE_API_PORT']}"
    try:
        deadline = time.monotonic() + timeout
        while not _ready(url):
            if time.monotonic() > deadline or proc.poll() is not None:
                tail = log.read_text(errors="replace")[-3000:]
                raise AssertionError(f"stockline api did not get ready:\n{tail}")
            time.sleep(0.1)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False
