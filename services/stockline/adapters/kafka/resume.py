"""Resume a partition from Redis' applied watermark when Redis is behind Kafka.

Kafka's committed offset says what the group acknowledged; Redis' watermark says what the
ledger really holds. They agree unless Redis lost its tail (a restart with AOF `everysec`
drops up to a second of writes). Then the worker must replay from the watermark instead of
skipping what Redis forgot; events Redis still has come back as redelivered and change
nothing. A partition Kafka has committed but Redis has no watermark for at all (Redis lost
everything, or a new key prefix) is replayed from its start.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from stockline.service_layer.ports import TopicPartition

WatermarkSource = Callable[[Sequence[TopicPartition]], Awaitable[dict[TopicPartition, int]]]


def rewind_target(committed: int | None, watermark: int | None) -> int | None:
    """The offset to resume from instead of `committed`, or None to keep it."""
    if committed is None or committed <= 0:
        return None
    applied = -1 if watermark is None else watermark
    return applied + 1 if applied + 1 < committed else None
