"""Publishing to Kafka with an idempotent aiokafka producer (acks=all); a call returns once
the broker has every message of it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner, murmur2
from mode import Service

from stockline.adapters.kafka.options import client_options
from stockline.service_layer.ports import DeadLetter
from stockline.settings import Settings


class KafkaPublisher(Service):
    """The Publisher port on Kafka: ATP snapshots keyed by SKU, DLQ records as they came."""

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._settings = settings
        self._atp_topic = settings.atp_topic
        self._dlq_topic = settings.dlq_topic
        self._reorder_topic = settings.reorder_topic
        self._rebalance_topic = settings.rebalance_topic
        self.producer: AIOKafkaProducer | None = None

    async def on_start(self) -> None:
        # aiokafka clients bind to the running loop, so they are made here, not in __init__
        self.producer = AIOKafkaProducer(
            **client_options(self._settings),
            acks="all",
            enable_idempotence=True,
            linger_ms=2,
            max_batch_size=256 * 1024,
            partitioner=RememberingPartitioner(),
        )
        await self.producer.start()

    async def on_stop(self) -> None:
        if self.producer is not None:
            await self.producer.stop()

    def _send(self) -> Any:
        if self.producer is None:
            raise RuntimeError("the publisher is not started")
        return self.producer.send

    async def publish_atp(self, messages: Sequence[tuple[str, bytes]]) -> None:
        await self._keyed(self._atp_topic, messages)

    async def publish_signals(
        self, reorder: Sequence[tuple[str, bytes]], rebalance: Sequence[tuple[str, bytes]]
    ) -> None:
        await asyncio.gather(
            self._keyed(self._reorder_topic, reorder), self._keyed(self._rebalance_topic, rebalance)
        )

    async def _keyed(self, topic: str, messages: Sequence[tuple[str, bytes]]) -> None:
        send = self._send()
        pending = [await send(topic, value, key=sku.encode()) for sku, value in messages]
        await asyncio.gather(*pending)

    async def dead_letter(self, records: Sequence[DeadLetter]) -> None:
        send = self._send()
        pending = [
            await send(self._dlq_topic, record.value, key=record.key, headers=headers)
            for record, headers in records
        ]
        await asyncio.gather(*pending)


class RememberingPartitioner:
    """Kafka's default partitioner (murmur2 of the key, as the Java client), with each
    key's hash remembered: aiokafka computes it in pure Python, ~4 us a message, and the
    worker publishes the same SKUs again and again."""

    def __init__(self, keys: int = 100_000) -> None:
        self._hash = lru_cache(maxsize=keys)(_positive_murmur2)
        self._default = DefaultPartitioner()

    def __call__(self, key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
        if key is None:
            return int(self._default(key, all_partitions, available))
        return all_partitions[self._hash(key) % len(all_partitions)]


def _positive_murmur2(key: bytes) -> int:
    return int(murmur2(key)) & 0x7FFFFFFF
