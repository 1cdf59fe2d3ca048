"""The worker's daily sweep: every SKU of the partitions this worker owns is reviewed once
per UTC day even without events (DESIGN.md section 5), so with several workers each
(node, sku) is reviewed by the one that owns its partition.

Every `review_interval_s` the sweep finds the owned partitions not yet swept today (a new
day, a new assignment, a start), lists the SKUs of the network's nodes from the node index,
keeps those whose key Kafka's default partitioner (murmur2) sends to one of them, and
reviews them in chunks under the ledger consumer's batch lock (`DailyReview`), with the
wall clock's UTC day as the review day. What it remembers is only an optimisation: a sweep
repeated on the same day emits nothing the day's signals already cover.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from aiokafka.partitioner import murmur2
from mode import Service

from stockline.adapters.kafka.ledger_consumer import LedgerConsumer
from stockline.adapters.metrics import Metrics
from stockline.contracts.outbound import as_of
from stockline.domain.effects import day_of
from stockline.service_layer.review import DailyReview

log = logging.getLogger(__name__)
CHUNK = 200
PAGE = 1000


class NodeIndex(Protocol):
    async def node_skus(self, node_id: str, *, after: str | None, limit: int) -> list[str]: ...


def partition_of(sku: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives the key `sku` (as the Java client)."""
    return int(murmur2(sku.encode()) & 0x7FFFFFFF) % partitions


class DailySweep(Service):
    def __init__(
        self,
        consumer: LedgerConsumer,
        review: DailyReview,
        index: NodeIndex,
        nodes: Sequence[str],
        metrics: Metrics,
        *,
        interval_s: float,
        clock: Callable[[], int] = lambda: time.time_ns() // 1000,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._consumer, self._review, self._index = consumer, review, index
        self._nodes, self._metrics = list(nodes), metrics
        self._interval, self._clock = interval_s, clock
        self._swept: dict[int, int] = {}  # partition -> the UTC day it was last swept

    @Service.task
    async def _run(self) -> None:
        while not self.should_stop:
            await self.sleep(self._interval)
            try:
                await self.sweep_once()
            except Exception:  # a failed sweep is retried at the next interval
                log.exception("daily review sweep failed; retrying in %.0fs", self._interval)

    async def sweep_once(self) -> int:
        """Review the SKUs of the owned partitions not yet swept today; returns how many."""
        now = self._clock()
        day = day_of(now)
        owned, count = self._consumer.owned_partitions()
        due = {p for p in owned if self._swept.get(p, -1) < day}
        if not due or count == 0:
            return 0
        skus = [s for s in await self._skus() if partition_of(s, count) in due]
        for start in range(0, len(skus), CHUNK):
            async with self._consumer.batch_lock:
                counts = await self._review.review(skus[start : start + CHUNK], day, as_of(now))
            for (kind, reason), n in counts.items():
                self._metrics.signals.labels(kind=kind, reason=reason).inc(n)
        for p in due:
            self._swept[p] = day
        return len(skus)

    async def _skus(self) -> list[str]:
        found: set[str] = set()
        for node in self._nodes:
            after: str | None = None
            while page := await self._index.node_skus(node, after=after, limit=PAGE):
                found.update(page)
                after = page[-1]
        return sorted(found)
