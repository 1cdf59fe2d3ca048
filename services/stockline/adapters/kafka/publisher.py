"""Publishing through the faust app's producer (acks=all); waits until the broker has it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from stockline.service_layer.ports import DeadLetter


class KafkaPublisher:
    """The Publisher port on Kafka: ATP snapshots keyed by SKU, DLQ records as they came."""

    def __init__(self, producer: Any, *, atp_topic: str, dlq_topic: str) -> None:
        self._producer = producer
        self._atp_topic = atp_topic
        self._dlq_topic = dlq_topic

    async def publish_atp(self, messages: Sequence[tuple[str, bytes]]) -> None:
        pending = [
            await self._producer.send(self._atp_topic, sku.encode(), value, None, None, None)
            for sku, value in messages
        ]
        await asyncio.gather(*pending)

    async def dead_letter(self, records: Sequence[DeadLetter]) -> None:
        pending = [
            await self._producer.send(
                self._dlq_topic, record.key, record.value, None, None, headers
            )
            for record, headers in records
        ]
        await asyncio.gather(*pending)
