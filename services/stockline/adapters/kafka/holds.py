"""The hold log on Kafka: hold events from the API to `inventory.reservations`, keyed by SKU
(so the worker applies them in order with the SKU's other events), idempotent, acks=all.

The producer starts on first use and again after a failed start, so an API process serves
reads while Kafka is down and answers writes 503 until it is back. A publish that is not
acknowledged within `timeout_s` raises `LogUnavailable`; its records may still reach the
broker later (the producer retries them in order), which is why the use case publishes
its undoing releases after them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from stockline.adapters.clients import kafka_producer
from stockline.contracts.codec import encode
from stockline.domain.events import InventoryEvent
from stockline.service_layer.reservation_ports import LogUnavailable
from stockline.settings import Settings

log = logging.getLogger(__name__)


class KafkaHoldLog:
    """`HoldLog` on an aiokafka producer of its own."""

    def __init__(self, settings: Settings, topic: str, *, timeout_s: float = 5.0) -> None:
        self._settings = settings
        self._topic = topic
        self._timeout_s = timeout_s
        self._producer: AIOKafkaProducer | None = None
        self._starting = asyncio.Lock()

    async def start(self) -> None:
        """Start the producer now if the broker answers (else on the first publish)."""
        try:
            await self._started()
        except LogUnavailable as exc:
            log.warning("the hold log is not reachable yet: %s", exc.__cause__)

    async def stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    async def publish(self, events: Sequence[InventoryEvent]) -> None:
        if not events:
            return
        producer = self._producer or await self._started()
        try:
            async with asyncio.timeout(self._timeout_s):
                sent = [
                    await producer.send(self._topic, encode(e), key=e.sku.encode()) for e in events
                ]
                await asyncio.gather(*sent)
        except (KafkaError, TimeoutError, OSError) as exc:
            raise LogUnavailable(f"{len(events)} hold events not acknowledged: {exc!r}") from exc

    async def _started(self) -> AIOKafkaProducer:
        async with self._starting:
            if self._producer is not None:
                return self._producer
            producer = self._new_producer()
            try:
                async with asyncio.timeout(self._timeout_s):
                    await producer.start()
            except (KafkaError, TimeoutError, OSError) as exc:
                await producer.stop()
                raise LogUnavailable(f"the hold log did not start: {exc!r}") from exc
            self._producer = producer
            return producer

    def _new_producer(self) -> AIOKafkaProducer:
        return kafka_producer(
            self._settings,
            acks="all",
            enable_idempotence=True,
            linger_ms=1,
            request_timeout_ms=max(int(self._timeout_s * 1000), 1000),
        )
