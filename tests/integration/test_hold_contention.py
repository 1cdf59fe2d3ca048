"""Holds under contention (issue #14): 1,000 hold requests from 8 client processes to
`stockline api --workers 2` for one SKU with ATP 100 at one node, while a worker applies
picks and receipts to it. Exactly the available units are held, never more; every request
is answered 201 or 409; no record on `inventory.atp.nodes` ever shows more held than the
node had to promise."""

from __future__ import annotations

import json
import multiprocessing
import time
from collections import Counter
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any

import httpx
import pytest

from stockline.domain.events import OrderPlaced, Pick, Receipt
from tests.integration.conftest import spawn
from tests.integration.harness import (
    Producer,
    WorkerProcess,
    World,
    eventually,
    published_nodes,
    read_to_end,
)
from tests.integration.live_api import api_process

pytestmark = [pytest.mark.kafka, pytest.mark.redis]

SKU, DC = "SKU-HOT", "dc-1"
TOKEN = "contention-token"
CLIENTS, BEFORE, AFTER = 8, 100, 25
"""Each client sends BEFORE requests, waits until the picks and receipts are applied, then
sends AFTER more: 8 x 125 = 1,000 requests, the last 200 of them after every unit arrived."""
PICKS = RECEIPTS = 20


def now_us() -> int:
    return time.time_ns() // 1_000


def client(url: str, name: str, fed: EventType, answers: multiprocessing.Queue[list[int]]) -> None:
    """One storefront process: one unit per reservation, each with an id of its own."""
    statuses = []
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
        for n in range(BEFORE + AFTER):
            if n == BEFORE:
                fed.wait(timeout=120)
            body = {
                "reservation_id": f"{name}-{n}",
                "lines": [{"sku": SKU, "qty": 1, "node_id": DC}],
            }
            statuses.append(http.post("/v1/reservations", json=body).status_code)
    answers.put(statuses)


async def dc_records(world: World) -> list[dict[str, Any]]:
    """Every record of (SKU, DC) on the node topic, in offset order."""
    key = f"{SKU}/{DC}".encode()
    records = [r for r in await read_to_end(world, "inventory.atp.nodes") if r.key == key]
    return [json.loads(r.value) for r in sorted(records, key=lambda r: r.offset)]


async def test_concurrent_holds_never_promise_a_unit_twice(
    world: World, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    await world.create_topics()
    spawn(workers, world, tmp_path)
    async with Producer(world) as producer:
        # 120 on hand, 20 of them reserved by an order: ATP 100
        await producer.events(
            [
                Receipt("seed", now_us(), "wms", DC, SKU, 120),
                OrderPlaced("order", now_us(), "oms", DC, SKU, 20, "o-1"),
            ]
        )
        start = await eventually(
            lambda: published_nodes(world),
            lambda r: r.get((SKU, DC), {}).get("atp") == 100,
            timeout=60,
        )
        assert start[SKU, DC]["atp"] == 100

        with api_process(world, TOKEN, tmp_path / "api.log") as url:
            ctx = multiprocessing.get_context("spawn")
            fed, answers = ctx.Event(), ctx.Queue()
            clients = [
                ctx.Process(target=client, args=(url, f"c{n}", fed, answers))
                for n in range(CLIENTS)
            ]
            for process in clients:
                process.start()
            # while they hold: the order's 20 units are picked (ATP unchanged) and 20 more
            # arrive one at a time (each can be held as soon as the worker applies it)
            for n in range(max(PICKS, RECEIPTS)):
                await producer.events(
                    [
                        Pick(f"pick-{n}", now_us(), "wms", DC, SKU, 1, "o-1"),
                        Receipt(f"more-{n}", now_us(), "wms", DC, SKU, 1),
                    ]
                )
            fed_in = await eventually(
                lambda: published_nodes(world),
                lambda r: (r[SKU, DC]["on_hand"], r[SKU, DC]["reserved"]) == (120, 0),
                timeout=60,
            )
            assert (fed_in[SKU, DC]["on_hand"], fed_in[SKU, DC]["reserved"]) == (120, 0)
            fed.set()
            statuses = Counter(s for _ in clients for s in answers.get(timeout=300))
            for process in clients:
                process.join(timeout=60)

    assert sum(statuses.values()) == CLIENTS * (BEFORE + AFTER)
    assert set(statuses) <= {201, 409}, statuses
    assert statuses[201] == 120  # every unit that could be promised, and not one more
    final = await eventually(
        lambda: published_nodes(world),
        lambda r: r.get((SKU, DC), {}).get("held") == 120,
        timeout=60,
    )
    assert (final[SKU, DC]["on_hand"], final[SKU, DC]["held"], final[SKU, DC]["atp"]) == (
        120,
        120,
        0,
    )
    records = await dc_records(world)
    assert len(records) > 2
    over = [r for r in records if r["held"] + r["reserved"] > r["on_hand"] or r["atp"] < 0]
    assert over == []
