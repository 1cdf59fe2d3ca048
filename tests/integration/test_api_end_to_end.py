"""Events in through a real broker and worker; the `stockline api` process answers the
exact quantities, with the version of the latest `inventory.atp` message."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from stockline.adapters.redis.store import RedisLedgerStore
from tests.integration.conftest import spawn
from tests.integration.harness import (
    Producer,
    WorkerProcess,
    World,
    eventually,
    free_port,
    read_topic,
)
from tests.integration.live_api import wait_healthy
from tests.integration.test_worker_end_to_end import EXPECTED, story

pytestmark = [pytest.mark.kafka, pytest.mark.redis]

TOKEN = "it-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NODES = {
    "DC-1": {"atp": 29, "on_hand": 35, "reserved": 6, "inbound": 40, "safety_stock": 0},
    "STORE-7": {"atp": 15, "on_hand": 15, "reserved": 0, "inbound": 5, "safety_stock": 0},
}


@pytest.fixture
def api(world: World, tmp_path: Path) -> Iterator[str]:
    """`stockline api` on a free port, configured for the world, with a token file."""
    port = free_port()
    (tmp_path / "tokens").write_text(f"{TOKEN}\n")
    env = world.env(web_port=free_port())
    env |= {"STOCKLINE_API_PORT": str(port), "STOCKLINE_API_TOKENS_FILE": str(tmp_path / "tokens")}
    with (tmp_path / "api.log").open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "stockline.cli", "api"], env=env, stdout=log, stderr=log
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, timeout=30)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


async def latest_atp(world: World, skus: list[str]) -> dict[str, dict[str, Any]]:
    """The highest-version `inventory.atp` message per SKU."""
    latest: dict[str, dict[str, Any]] = {}
    records = await read_topic(world, "inventory.atp", expect=1, timeout=10)
    for record in records:
        message = json.loads(record.value)
        if message["version"] > latest.get(message["sku"], {"version": -1})["version"]:
            latest[message["sku"]] = message
    return {sku: latest[sku] for sku in skus}


async def test_the_api_answers_what_the_worker_folded_and_published(
    world: World, workers: list[WorkerProcess], ledger: RedisLedgerStore, api: str, tmp_path: Path
) -> None:
    t0 = time.time_ns() // 1000 - 600_000_000
    skus = [f"SKU-API-{world.run}-{i}" for i in range(2)]
    await world.create_topics()
    spawn(workers, world, tmp_path)
    async with Producer(world) as producer:
        for sku in skus:
            await producer.events(story(sku, t0))
    for sku in skus:
        await eventually(lambda s=sku: ledger.snapshot(s), lambda s: s and s.nodes == EXPECTED)
    published = await latest_atp(world, skus)

    async with httpx.AsyncClient(base_url=api, headers=AUTH) as client:
        for sku in skus:
            body = (await client.get(f"/v1/availability/{sku}")).json()
            assert (body["nodes"], body["network_atp"]) == (NODES, 44)
            assert body["version"] == published[sku]["version"]
        batch = await client.post("/v1/availability/batch", json={"skus": [*skus, "SKU-NONE"]})
        assert [m["version"] for m in batch.json()["items"]] == [
            published[s]["version"] for s in skus
        ]
        assert batch.json()["not_found"] == ["SKU-NONE"]
        page = (await client.get("/v1/nodes/STORE-7/stock", params={"limit": 1})).json()
        assert page["items"][0] | {"sku": skus[0]} == {
            "sku": skus[0],
            "version": published[skus[0]]["version"],
            **NODES["STORE-7"],
        }
        missing = await client.get("/v1/availability/SKU-NONE")
        assert (missing.status_code, missing.json()["error"]) == (404, "sku_not_found")
        assert (await client.get("/readyz")).status_code == 200
        assert (
            await client.get("/v1/availability/x", headers={"Authorization": ""})
        ).status_code == 401
