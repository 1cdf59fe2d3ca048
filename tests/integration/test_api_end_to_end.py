"""Events in through a real broker and worker; the `stockline api` process answers the
exact quantities, with the SKU version its latest `inventory.atp.nodes` records carry."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from functools import partial
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
    published_nodes,
)
from tests.integration.live_api import wait_healthy
from tests.integration.test_worker_end_to_end import EXPECTED, story

pytestmark = [pytest.mark.kafka, pytest.mark.redis]

TOKEN = "it-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NODES = {
    "DC-1": {
        "atp": 29, "on_hand": 35, "reserved": 6, "held": 0, "inbound": 40, "buffer": 0,
        "safety_stock": 0,
    },
    "STORE-7": {
        "atp": 15, "on_hand": 15, "reserved": 0, "held": 0, "inbound": 5, "buffer": 0,
        "safety_stock": 0,
    },
}  # fmt: skip


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
        proc.terminate()  # uvicorn drains for up to API_SHUTDOWN_TIMEOUT_S (20 s) per process
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
            tail = (tmp_path / "api.log").read_text(errors="replace")[-3000:]
            message = f"stockline api did not stop on SIGTERM within 60 s:\n{tail}"
            raise AssertionError(message) from None


async def published_versions(world: World, skus: list[str]) -> dict[str, int]:
    """Per SKU, the highest version among the latest `inventory.atp.nodes` record of each of
    its nodes: the version after the last batch that changed it. Waits until every node
    record shows EXPECTED's stock (the worker publishes right after it applied)."""
    want = {(s, n): (v.on_hand, v.reserved, v.inbound) for s in skus for n, v in EXPECTED.items()}

    def caught_up(got: dict[tuple[str, str], dict[str, Any]]) -> bool:
        seen = {k: (got[k]["on_hand"], got[k]["reserved"], got[k]["inbound"]) for k in got}
        return {k: seen.get(k) for k in want} == want

    nodes = await eventually(lambda: published_nodes(world), caught_up, timeout=20)
    assert caught_up(nodes)
    return {s: max(nodes[s, n]["version"] for n in EXPECTED) for s in skus}


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
        await eventually(
            partial(ledger.snapshot, sku), lambda s: s is not None and s.nodes == EXPECTED
        )
    published = await published_versions(world, skus)

    async with httpx.AsyncClient(base_url=api, headers=AUTH) as client:
        for sku in skus:
            body = (await client.get(f"/v1/availability/{sku}")).json()
            assert (body["nodes"], body["network_atp"]) == (NODES, 44)
            assert body["version"] == published[sku]
        batch = await client.post("/v1/availability/batch", json={"skus": [*skus, "SKU-NONE"]})
        assert [m["version"] for m in batch.json()["items"]] == [published[s] for s in skus]
        assert batch.json()["not_found"] == ["SKU-NONE"]
        page = (await client.get("/v1/nodes/STORE-7/stock", params={"limit": 1})).json()
        assert page["items"][0] | {"sku": skus[0]} == {
            "sku": skus[0],
            "version": published[skus[0]],
            **NODES["STORE-7"],
        }
        missing = await client.get("/v1/availability/SKU-NONE")
        assert (missing.status_code, missing.json()["error"]) == (404, "sku_not_found")
        assert (await client.get("/readyz")).status_code == 200
        assert (
            await client.get("/v1/availability/x", headers={"Authorization": ""})
        ).status_code == 401


async def test_the_default_batch_limit_is_500_skus(world: World, api: str) -> None:
    """With no setting, `stockline api` answers a batch of 500 SKUs and refuses 501 by name."""
    skus = [f"SKU-LIMIT-{world.run}-{n}" for n in range(501)]
    async with httpx.AsyncClient(base_url=api, headers=AUTH) as client:
        full = await client.post("/v1/availability/batch", json={"skus": skus[:500]})
        over = await client.post("/v1/availability/batch", json={"skus": skus})
    assert (full.status_code, len(full.json()["not_found"])) == (200, 500)
    assert (over.status_code, over.json()["error"]) == (422, "batch_too_large")
    assert over.json()["detail"] == "the batch has 501 SKUs; the limit is 500"
