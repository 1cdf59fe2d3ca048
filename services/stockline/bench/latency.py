"""Event-to-ATP latency, measured from outside: send time to the ATP snapshot that has it.

A snapshot of a SKU stamped `as_of` covers every event of that SKU the worker had read when
it started that batch, so each pending event of the SKU sent no later than `as_of` is
resolved by the first such snapshot to arrive. Events sent a moment before `as_of` but not
yet read would resolve early; at the rates measured that bias is below a millisecond.
Events sent before `measure_from_us` (the warm-up) are resolved but not counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections import defaultdict, deque
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from stockline.adapters.clients import kafka_consumer
from stockline.contracts import rfc3339
from stockline.settings import Settings

_AS_OF = b'"as_of":"'


def sku_of_sku_key(key: bytes) -> str:
    """`inventory.atp` records are keyed by SKU."""
    return key.decode()


def sku_of_node_key(key: bytes) -> str:
    """`inventory.atp.nodes` records are keyed `<sku>/<node_id>`."""
    return key.split(b"/", 1)[0].decode()


def atp_source(settings: Settings) -> tuple[str, Callable[[bytes], str]]:
    """The topic the probe reads and how a record's key names its SKU: the per-node
    records, since every event that changes stock changes a node's record (an inbound
    change, say, may leave the SKU's totals alone)."""
    return settings.atp_nodes_topic, sku_of_node_key


def _as_of_us(value: bytes) -> int:
    start = value.index(_AS_OF) + len(_AS_OF)
    return rfc3339.to_epoch_us(rfc3339.parse(value[start : value.index(b'"', start)].decode()))


class LatencyProbe:
    def __init__(self, settings: Settings, measure_from_us: int = 0) -> None:
        self._settings = settings
        self._topic, self._sku_of = atp_source(settings)
        self.measure_from_us = measure_from_us
        self._pending: dict[str, deque[int]] = defaultdict(deque)
        self._latencies_us: list[int] = []
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._outstanding = 0
        self._drained = asyncio.Event()

    async def start(self) -> None:
        s = self._settings
        self._consumer = kafka_consumer(s, enable_auto_commit=False)
        await self._consumer.start()
        tps = [TopicPartition(self._topic, p) for p in range(s.partitions)]
        self._consumer.assign(tps)
        await self._consumer.seek_to_end(*tps)
        self._task = asyncio.create_task(self._read())

    def sent(self, sku: str, sent_us: int) -> None:
        self._pending[sku].append(sent_us)
        self._outstanding += 1
        self._drained.clear()

    async def drain(self, timeout: float) -> None:
        """Wait until every sent event was seen in a snapshot, or `timeout` seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._drained.wait(), timeout)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._consumer is not None:
            await self._consumer.stop()

    def latencies_ms(self) -> list[float]:
        return [us / 1000 for us in self._latencies_us]

    def quantiles_ms(self, *qs: float) -> tuple[float, ...]:
        values = sorted(self.latencies_ms())
        if len(values) < 2:
            return tuple(0.0 for _ in qs)
        cuts = statistics.quantiles(values, n=1000, method="inclusive")
        return tuple(cuts[min(len(cuts) - 1, round(q * 1000) - 1)] for q in qs)

    async def _read(self) -> None:
        assert self._consumer is not None
        while True:
            batch = await self._consumer.getmany(timeout_ms=200)
            received_us = time.time_ns() // 1000
            for records in batch.values():
                for record in records:
                    # only as_of is read from the value: parsing whole 20-node snapshots
                    # here took CPU from the worker being measured
                    sku = self._sku_of(record.key)
                    self._resolve(sku, _as_of_us(record.value), received_us)

    def _resolve(self, sku: str, as_of_us: int, received_us: int) -> None:
        pending = self._pending.get(sku)
        while pending and pending[0] <= as_of_us:
            sent_us = pending.popleft()
            if sent_us >= self.measure_from_us:
                self._latencies_us.append(received_us - sent_us)
            self._outstanding -= 1
        if self._outstanding == 0:
            self._drained.set()
