"""Resume a partition from Redis' applied watermark when Redis is behind Kafka.

Kafka's committed offset says what the group acknowledged; Redis' watermark says what the
ledger really holds. They agree unless Redis lost its tail (a restart with AOF `everysec`
drops up to a second of writes). Then the worker must replay from the watermark instead of
skipping what Redis forgot; events Redis still has come back as redelivered and change
nothing. A partition Kafka has committed but Redis has no watermark for at all (Redis lost
everything, or a new key prefix) is replayed from its start.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from stockline.service_layer.ports import TopicPartition

log = logging.getLogger(__name__)

WatermarkSource = Callable[[Sequence[TopicPartition]], Awaitable[dict[TopicPartition, int]]]


def rewind_target(committed: int | None, watermark: int | None) -> int | None:
    """The offset to resume from instead of `committed`, or None to keep it."""
    if committed is None or committed <= 0:
        return None
    applied = -1 if watermark is None else watermark
    return applied + 1 if applied + 1 < committed else None


def install_watermark_resume(consumer: Any, watermarks: WatermarkSource) -> None:
    """Make the faust consumer's seek-to-committed (run on every partition assignment, before
    fetching resumes) rewind to the applied watermark where that is behind."""
    original = consumer.seek_to_committed

    async def seek_to_committed() -> Mapping[Any, int]:
        committed = dict(await original())
        marks = await watermarks([(tp.topic, tp.partition) for tp in committed])
        for tp, offset in list(committed.items()):
            target = rewind_target(offset, marks.get((tp.topic, tp.partition)))
            if target is not None:
                log.warning(
                    "Redis has applied %s[%d] only up to offset %d but Kafka committed %d: "
                    "replaying from %d",
                    tp.topic,
                    tp.partition,
                    target - 1,
                    offset,
                    target,
                )
                await consumer._seek(tp, target)
                committed[tp] = target
        return committed

    consumer.seek_to_committed = seek_to_committed
