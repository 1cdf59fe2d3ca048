"""The benchmark's events are valid events of every type, the same for the same seed."""

from __future__ import annotations

import json
import time
from collections import Counter

from stockline.adapters.memory import MemoryLedgerStore
from stockline.bench.latency import LatencyProbe
from stockline.bench.workload import Workload
from stockline.contracts.codec import Rejection, decode
from stockline.service_layer.ports import Delivery
from stockline.settings import Settings

WEEK_US = 7 * 86_400 * 1_000_000


def test_every_message_decodes_and_every_type_appears() -> None:
    now = time.time_ns() // 1000
    workload = Workload(skus=500, nodes=20, seed=3, run="t")
    messages = list(workload.messages(5_000, now - 60_000_000))
    decoded = [decode(m.value, m.key, now_us=now, retention_us=WEEK_US) for m in messages]
    assert [d for d in decoded if isinstance(d, Rejection)] == []
    types = Counter(json.loads(m.value)["event_type"] for m in messages)
    assert len(types) == 9
    assert types["pick"] > types["cycle_count"]  # the mix is weighted like a real network


async def test_every_event_changes_stock_so_each_is_answered_by_a_record() -> None:
    now = time.time_ns() // 1000
    store = MemoryLedgerStore()
    workload = Workload(skus=50, nodes=4, seed=5, run="t")
    unanswered = []
    for offset, message in enumerate(workload.messages(3_000, now - 60_000_000)):
        event = decode(message.value, message.key, now_us=now, retention_us=WEEK_US)
        assert not isinstance(event, Rejection)
        result = await store.apply([Delivery(event, message.topic, 0, offset)], now)
        if not result.changes:
            unanswered.append(message.value)
    assert unanswered == []


def test_the_same_seed_gives_the_same_messages() -> None:
    first = list(Workload(skus=100, nodes=5, seed=9, run="t").messages(200, 1_795_000_000_000_000))
    again = list(Workload(skus=100, nodes=5, seed=9, run="t").messages(200, 1_795_000_000_000_000))
    other = list(Workload(skus=100, nodes=5, seed=10, run="t").messages(200, 1_795_000_000_000_000))
    assert first == again
    assert first != other


def test_a_snapshot_resolves_only_events_sent_before_its_as_of() -> None:
    probe = LatencyProbe(Settings())
    probe.sent("SKU-1", 1_000)
    probe.sent("SKU-1", 5_000)
    probe._resolve("SKU-1", as_of_us=2_000, received_us=11_000)
    assert probe.latencies_ms() == [10.0]  # sent at 1 ms, seen at 11 ms; the other waits
    probe._resolve("SKU-1", as_of_us=6_000, received_us=15_000)
    assert probe.latencies_ms() == [10.0, 10.0]
