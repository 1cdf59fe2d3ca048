"""Publishing to Kafka with an idempotent aiokafka producer (acks=all); a call returns once
the broker has every message of it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner, murmur2
from mode import Service

from stockline.adapters.clients import kafka_producer
from stockline.service_layer.ports import DeadLetter
from stockline.settings import Settings


class KafkaPublisher(Service):
    """The Publisher port on Kafka: ATP snapshots keyed by SKU, DLQ records as they came."""

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._settings = settings
        self._atp_topic = settings.atp_topic
        self._atp_nodes_topic = settings.atp_nodes_topic
        self._dlq_topic = settings.dlq_topic
        self._reorder_topic = settings.reorder_topic
        self._rebalance_topic = settings.rebalance_topic
        self.producer: AIOKafkaProducer | None = None

    async def on_start(self) -> None:
        # aiokafka clients bind to the running loop, so they are made here, not in __init__
        self.producer = kafka_producer(
            self._settings,
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

    def _producer(self) -> AIOKafkaProducer:
        if self.producer is None:
            raise RuntimeError("the publisher is not started")
        return self.producer

    def _send(self) -> Any:
        return self._producer().send

    async def publish_atp(
        self, nodes: Sequence[tuple[str, str, bytes]], skus: Sequence[tuple[str, bytes]]
    ) -> None:
        """Node records keyed `<sku>/<node_id>`, SKU records keyed by SKU; both on the
        partition Kafka's default partitioner gives the SKU, so one SKU's records share a
        partition number on both topics (and with the SKU's input records). Built into
        record batches per partition: the producer's per-message `send` costs ~10 us in
        Python, an append to a batch ~1 us."""
        batches = _Batches(self._producer())
        await batches.add_all(
            self._atp_nodes_topic,
            ((sku, f"{sku}/{node_id}".encode(), value) for sku, node_id, value in nodes),
        )
        await batches.add_all(self._atp_topic, ((sku, sku.encode(), value) for sku, value in skus))
        await batches.flush()

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


class _Batches:
    """Record batches per topic-partition, sent when full and at `flush`; `flush` returns
    once the broker has every record."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer
        self._open: dict[tuple[str, int], Any] = {}
        self._sent: list[Any] = []
        self._partitions: dict[str, list[int]] = {}

    async def add_all(self, topic: str, records: Iterable[tuple[str, bytes, bytes]]) -> None:
        """Append (sku, key, value) records to the batch of the SKU's partition of `topic`,
        sending each batch that fills; only then does it wait (a coroutine per record cost
        more than the append)."""
        partitions = self._partitions.get(topic)
        if partitions is None:
            partitions = sorted(await self._producer.partitions_for(topic))
            self._partitions[topic] = partitions
        count, open_batches = len(partitions), self._open
        for sku, key, value in records:
            tp = (topic, partitions[_sku_hash(sku) % count])
            batch = open_batches.get(tp)
            if batch is None:
                batch = open_batches[tp] = self._producer.create_batch()
            if batch.append(key=key, value=value, timestamp=None) is None:
                await self._send(tp)
                batch = open_batches[tp] = self._producer.create_batch()
                if batch.append(key=key, value=value, timestamp=None) is None:
                    raise ValueError(f"a record of {len(value)} bytes does not fit in a batch")

    async def _send(self, tp: tuple[str, int]) -> None:
        batch = self._open.pop(tp)
        self._sent.append(await self._producer.send_batch(batch, tp[0], partition=tp[1]))

    async def flush(self) -> None:
        for tp in list(self._open):
            await self._send(tp)
        await asyncio.gather(*self._sent)


@lru_cache(maxsize=100_000)
def _sku_hash(sku: str) -> int:
    return _positive_murmur2(sku.encode())


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
