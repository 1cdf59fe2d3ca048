"""The publisher's record batches: every record in the batch of its SKU's partition, in
order, a full batch sent and a new one started, nothing lost at flush."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka.producer.message_accumulator import BatchBuilder

from stockline.adapters.kafka.publisher import _Batches, _sku_hash


class Producer:
    """What _Batches uses of AIOKafkaProducer, with aiokafka's own batch builder."""

    def __init__(self, partitions: int, batch_size: int = 16 * 1024) -> None:
        self.partitions = partitions
        self.batch_size = batch_size
        self.sent: list[tuple[str, int, BatchBuilder]] = []
        self.lookups = 0

    async def partitions_for(self, topic: str) -> set[int]:
        self.lookups += 1
        return set(range(self.partitions))

    def create_batch(self) -> BatchBuilder:
        return BatchBuilder(self.batch_size, 0)

    async def send_batch(self, batch: BatchBuilder, topic: str, *, partition: int) -> Any:
        self.sent.append((topic, partition, batch))
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future

    def records(self) -> list[tuple[str, int, int]]:
        """(topic, partition, record count) of each batch sent."""
        return [(t, p, b.record_count()) for t, p, b in self.sent]


def records(n: int, size: int = 10) -> list[tuple[str, bytes, bytes]]:
    return [(f"SKU-{i % 7}", f"SKU-{i % 7}/N{i}".encode(), b"x" * size) for i in range(n)]


async def test_each_record_goes_to_its_skus_partition_in_one_batch_per_partition() -> None:
    producer = Producer(partitions=3)
    batches = _Batches(producer)
    await batches.add_all("nodes", records(50))
    await batches.add_all("skus", [("SKU-1", b"SKU-1", b"{}")])
    await batches.flush()
    expected: dict[tuple[str, int], int] = {}
    for sku, _, _ in records(50):
        tp = ("nodes", _sku_hash(sku) % 3)
        expected[tp] = expected.get(tp, 0) + 1
    expected["skus", _sku_hash("SKU-1") % 3] = 1
    assert {(t, p): n for t, p, n in producer.records()} == expected
    assert producer.lookups == 2  # once per topic


async def test_a_full_batch_is_sent_and_the_rest_starts_a_new_one() -> None:
    producer = Producer(partitions=1, batch_size=1024)
    batches = _Batches(producer)
    await batches.add_all("nodes", records(40, size=100))
    await batches.flush()
    counts = [n for _, _, n in producer.records()]
    assert sum(counts) == 40
    assert len(counts) > 1
