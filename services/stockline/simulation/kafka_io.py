"""The simulator's Kafka side: publish events, wait until the workers applied them, read the
signals and per-node ATP records they published.

`wait_applied` is the closed loop's barrier: the worker commits an offset only after it
applied the event in Redis and published that batch's ATP records and signals, so once
the consumer group's committed offsets pass everything published, draining the node ATP
and signal topics to their end offsets sees every consequence of those events.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable
from typing import Any, Final

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

from stockline.adapters.clients import kafka_admin, kafka_consumer, kafka_producer
from stockline.adapters.kafka.partitions import MissingTopics, assign_at_end
from stockline.contracts.codec import encode
from stockline.contracts.signals import SignalRecord, parse_rebalance, parse_reorder
from stockline.domain.events import InventoryEvent, event_type_of
from stockline.settings import INPUT_TOPICS, Settings
from stockline.simulation.closed_loop import REBALANCE, REORDER
from stockline.simulation.stock import Key

_TOPIC_INDEX: Final = {
    "receipt": 0,
    "inbound_expected": 0,
    "pick": 1,
    "cycle_count": 2,
    "order_placed": 3,
    "order_cancelled": 3,
    "lost_sale": 3,
    "adjustment": 4,
    "transfer_shipped": 5,
    "transfer_received": 5,
    "hold_placed": 6,
    "hold_extended": 6,
    "hold_released": 6,
}
"""event_type -> position of its topic in `Settings.input_topics` (DESIGN.md order)."""


def topic_of(settings: Settings, event: InventoryEvent) -> str:
    if len(settings.input_topics) != len(INPUT_TOPICS):
        raise ValueError(
            f"input_topics must list the {len(INPUT_TOPICS)} input topics in DESIGN.md order"
        )
    return settings.input_topics[_TOPIC_INDEX[event_type_of(event)]]


class SimKafka:
    """Producer plus (with `consume=True`) a reader of the node ATP and signal topics,
    positioned at their ends when entered, so only what this run caused is read."""

    def __init__(self, settings: Settings, *, consume: bool = True) -> None:
        self.settings = settings
        self.nodes: dict[Key, dict[str, Any]] = {}
        """Per (node_id, sku), the latest `inventory.atp.nodes` record read: the last by
        offset, a record whose version is not above the one kept being stale."""
        self._produced: dict[TopicPartition, int] = {}
        self._producer = kafka_producer(
            settings,
            acks="all",
            linger_ms=5,
            enable_idempotence=True,
        )
        self._consumer = kafka_consumer(settings, enable_auto_commit=False) if consume else None
        self._signals: dict[str, tuple[str, Callable[[bytes], SignalRecord]]] = {
            settings.reorder_topic: (REORDER, parse_reorder),
            settings.rebalance_topic: (REBALANCE, parse_rebalance),
        }

    async def __aenter__(self) -> SimKafka:
        await self._producer.start()
        try:
            if self._consumer is not None:
                await self._consumer.start()
                await self._assign_at_end(self._consumer)
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._producer.stop()
        if self._consumer is not None:
            await self._consumer.stop()

    async def publish(self, events: Iterable[InventoryEvent]) -> int:
        """Send `events` keyed by SKU and wait for the broker's acks; returns how many."""
        pending = [
            await self._producer.send(topic_of(self.settings, e), encode(e), key=e.sku.encode())
            for e in events
        ]
        for meta in await asyncio.gather(*pending):
            tp = TopicPartition(meta.topic, meta.partition)
            self._produced[tp] = max(self._produced.get(tp, -1), meta.offset)
        return len(pending)

    async def wait_applied(self, timeout: float = 120) -> None:
        """Return once the workers' group committed past every offset published so far;
        TimeoutError after `timeout` seconds (no worker running, or it is stuck)."""
        admin = kafka_admin(self.settings)
        await admin.start()
        try:
            deadline = time.monotonic() + timeout
            while not await self._committed(admin):
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"consumer group {self.settings.consumer_group!r} did not apply the "
                        f"simulated events within {timeout:.0f}s: is a worker running?"
                    )
                await asyncio.sleep(0.1)
        finally:
            await admin.close()

    async def drain(self) -> list[tuple[str, SignalRecord]]:
        """Read the node ATP and signal topics to their current ends; returns the new
        signals (kind, record) and keeps the latest record per (node, sku) in `nodes`."""
        consumer = self._consumer
        if consumer is None:
            return []
        tps = list(consumer.assignment())
        end = await consumer.end_offsets(tps)
        signals: list[tuple[str, SignalRecord]] = []
        while any([await consumer.position(tp) < end[tp] for tp in tps]):
            batch = await consumer.getmany(timeout_ms=200)
            for record in (r for records in batch.values() for r in records):
                self._take(record.topic, record.value, signals)
        return signals

    def _take(self, topic: str, value: bytes, signals: list[tuple[str, SignalRecord]]) -> None:
        if topic in self._signals:
            kind, parse = self._signals[topic]
            signals.append((kind, parse(value)))
            return
        message = json.loads(value)
        key = (message["node_id"], message["sku"])
        known = self.nodes.get(key)
        if known is None or message["version"] > known["version"]:
            self.nodes[key] = message

    async def _committed(self, admin: AIOKafkaAdminClient) -> bool:
        offsets = await admin.list_consumer_group_offsets(self.settings.consumer_group)
        return all(
            tp in offsets and offsets[tp].offset > last for tp, last in self._produced.items()
        )

    async def _assign_at_end(self, consumer: AIOKafkaConsumer) -> None:
        names = [
            self.settings.atp_nodes_topic,
            self.settings.reorder_topic,
            self.settings.rebalance_topic,
        ]
        try:
            await assign_at_end(self.settings, consumer, names)
        except MissingTopics as exc:
            raise RuntimeError(
                f"topics {tuple(names)} do not exist: run `stockline topics` first"
            ) from exc
