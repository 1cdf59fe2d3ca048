"""ATP and signal messages land on the partition Kafka's own clients would choose."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner

from stockline.adapters.kafka.publisher import RememberingPartitioner


def test_every_key_goes_where_the_default_partitioner_sends_it_even_when_remembered() -> None:
    remembering, default = RememberingPartitioner(keys=50), DefaultPartitioner()
    keys = [f"SKU-{n:05d}".encode() for n in range(200)] + [b"", b"\xff\x00", "é".encode()]
    for partitions in ([0, 1, 2, 3, 4, 5], list(range(12)), [0]):
        for _ in range(2):  # the second pass answers some keys from memory
            for key in keys:
                chosen = remembering(key, partitions, partitions)
                assert chosen == default(key, partitions, partitions), key


def test_a_message_without_key_goes_to_an_available_partition() -> None:
    assert RememberingPartitioner()(None, [0, 1, 2], [2]) == 2
