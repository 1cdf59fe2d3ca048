"""Every kind of bad message ends up in inventory.dlq, byte for byte, with its reason."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from stockline.adapters.redis.store import RedisLedgerStore
from stockline.contracts.codec import DlqReason
from stockline.contracts.examples import invalid_examples
from stockline.domain.events import Receipt
from stockline.domain.ledger import NodeStock
from tests.integration.conftest import spawn
from tests.integration.harness import (
    Producer,
    WorkerProcess,
    World,
    eventually,
    metric_value,
    read_topic,
    scrape,
)

pytestmark = [pytest.mark.kafka, pytest.mark.redis]

TIMELESS = set(DlqReason) - {DlqReason.OCCURRED_IN_FUTURE, DlqReason.STALE_COUNT}


def _iso(epoch_s: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_s))


def timed_bad_messages(sku: str) -> list[tuple[DlqReason, bytes | None, bytes]]:
    """The two reasons that depend on the clock, built against the real now."""
    base = {
        "event_id": f"{sku}-late",
        "schema_version": 1,
        "source": "it",
        "node_id": "DC-1",
        "sku": sku,
    }
    future = {**base, "event_type": "receipt", "qty": 1, "occurred_at": _iso(time.time() + 3600)}
    stale = {
        **base,
        "event_type": "cycle_count",
        "counted_qty": 5,
        "occurred_at": _iso(time.time() - 30 * 86400),
    }
    return [
        (DlqReason.OCCURRED_IN_FUTURE, sku.encode(), json.dumps(future).encode()),
        (DlqReason.STALE_COUNT, sku.encode(), json.dumps(stale).encode()),
    ]


async def test_bad_messages_go_to_the_dlq_untouched_and_good_ones_still_apply(
    world: World, workers: list[WorkerProcess], ledger: RedisLedgerStore, tmp_path: Path
) -> None:
    sku = f"SKU-DLQ-{world.run}"
    bad = [
        (ex.reason, ex.message.key, ex.message.value)
        for ex in invalid_examples()
        if ex.reason in TIMELESS
    ]
    bad += [(DlqReason.BAD_JSON, sku.encode(), b"\xff\xfe not utf-8")]
    bad += timed_bad_messages(sku)
    assert {reason for reason, _, _ in bad} == set(DlqReason)
    now_us = time.time_ns() // 1000

    await world.create_topics()
    spawn(workers, world, tmp_path)
    sent: dict[tuple[int, int], tuple[DlqReason, bytes | None, bytes]] = {}
    async with Producer(world) as producer:
        for n, (reason, key, value) in enumerate(bad):
            good = Receipt(f"{sku}-{n}", now_us - 1000, "it", "DC-1", sku, qty=1)
            await producer.events([good])  # valid events around every bad one
            partition, offset = await producer.raw("inventory.receipts", value, key)
            sent[partition, offset] = (reason, key, value)

    stock = await eventually(
        lambda: ledger.snapshot(sku),
        lambda s: s is not None and s.nodes.get("DC-1") == NodeStock(len(bad), 0, 0),
    )
    assert stock is not None
    assert stock.nodes["DC-1"] == NodeStock(on_hand=len(bad), reserved=0, inbound=0)

    records = await read_topic(world, "inventory.dlq", expect=len(bad))
    assert len(records) == len(bad)
    for record in records:
        headers = {name: value.decode() for name, value in record.headers}
        assert headers["source_topic"] == world.topic("inventory.receipts")
        origin = (int(headers["source_partition"]), int(headers["source_offset"]))
        reason, key, value = sent.pop(origin)
        assert headers["reason"] == reason.value
        assert headers["detail"]
        assert record.value == value
        assert record.key == key
    assert sent == {}

    metrics = await scrape(workers[0])
    for reason in DlqReason:
        expected = sum(1 for r, _, _ in bad if r is reason)
        assert metric_value(metrics, "stockline_dlq_writes_total", reason=reason.value) == expected
