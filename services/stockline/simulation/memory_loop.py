"""The closed loop in one process: the simulator drives stockline's own `LedgerPipeline`,
`Planner` and `DailyReview` on the in-memory store, with no broker and no Redis.

Simulated day 0 is stamped onto `EPOCH_US` (a Monday), and the pipeline's clock is the
simulation's (the latest stamp emitted), so every run with the same seed and tag is the
same run, event for event and signal for signal. Per simulated day: the simulator acts on
the signals read so far, its events are encoded and fed to the pipeline in batches of
`batch` records (the worker would apply them as they come), then the daily review of the
day sweeps every SKU; the signals published go to the next day.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from stockline.adapters.memory import ListPublisher, MemoryLedgerStore
from stockline.contracts.codec import encode
from stockline.contracts.rfc3339 import render_utc
from stockline.contracts.signals import SignalRecord, parse_rebalance, parse_reorder
from stockline.domain.events import InventoryEvent
from stockline.domain.network import Network
from stockline.service_layer.planning import Planner
from stockline.service_layer.ports import RawRecord
from stockline.service_layer.process_batch import LedgerPipeline
from stockline.service_layer.review import DailyReview
from stockline.simulation.closed_loop import REBALANCE, REORDER
from stockline.simulation.generator import SimConfig, Simulator
from stockline.simulation.kpi import Kpis, compute
from stockline.simulation.model import DAY_US
from stockline.simulation.stock import Key, divergence

EPOCH_US: Final = 1_767_571_200_000_000
"""2026-01-05T00:00:00Z, a Monday: simulated day 0."""
RETENTION_US: Final = 7 * DAY_US
TOPIC: Final = "sim"


@dataclass(frozen=True, slots=True)
class EpochClock:
    """Stamps simulated time onto `start_us`; cycle counts are always fresh enough."""

    start_us: int = EPOCH_US

    def stamp(self, sim_us: int) -> int:
        return self.start_us + sim_us

    def counts_allowed(self, sim_us: int) -> bool:
        return True


@dataclass
class MemoryLoopResult:
    kpis: Kpis
    signals: dict[str, int]
    """Signals read per kind (reorder, rebalance)."""
    differing: list[Key]
    simulator: Simulator


@dataclass
class _Loop:
    network: Network
    planner: Planner
    batch: int
    store: MemoryLedgerStore = field(default_factory=MemoryLedgerStore)
    publisher: ListPublisher = field(default_factory=ListPublisher)
    now_us: int = EPOCH_US
    offset: itertools.count[int] = field(default_factory=itertools.count)
    counts: dict[str, int] = field(default_factory=lambda: {REORDER: 0, REBALANCE: 0})

    def __post_init__(self) -> None:
        self.pipeline = LedgerPipeline(
            self.store, self.publisher, RETENTION_US, clock=self._clock, planner=self.planner
        )
        self.review = DailyReview(self.store, self.publisher, self.planner)

    def _clock(self) -> int:
        return self.now_us

    async def feed(self, events: Iterable[InventoryEvent]) -> None:
        stream = iter(events)
        while chunk := list(itertools.islice(stream, self.batch)):
            self.now_us = max(self.now_us, max(e.occurred_us for e in chunk))
            await self.pipeline.process([self._record(e) for e in chunk])

    async def sweep(self, day_start_us: int, skus: Iterable[str]) -> None:
        """The daily review of the simulated day starting at `day_start_us` (stamped)."""
        day = day_start_us // DAY_US
        await self.review.review(sorted(skus), day, render_utc(self.now_us))

    def drain(self) -> list[tuple[str, SignalRecord]]:
        out: list[tuple[str, SignalRecord]] = [
            *((REORDER, parse_reorder(value)) for _, value in self.publisher.reorder),
            *((REBALANCE, parse_rebalance(value)) for _, value in self.publisher.rebalance),
        ]
        self.counts[REORDER] += len(self.publisher.reorder)
        self.counts[REBALANCE] += len(self.publisher.rebalance)
        self.publisher.reorder.clear()
        self.publisher.rebalance.clear()
        self.publisher.atp_nodes.clear()
        self.publisher.atp.clear()
        return out

    def _record(self, event: InventoryEvent) -> RawRecord:
        return RawRecord(TOPIC, 0, next(self.offset), event.sku.encode(), encode(event))

    def records(self) -> dict[tuple[str, str], dict[str, Any]]:
        """Per (node, sku), the values its `inventory.atp.nodes` record carries."""
        return {
            (node, sku): {
                "on_hand": s.on_hand,
                "reserved": s.reserved,
                "held": s.held,
                "inbound": s.inbound,
            }
            for sku, ledger in self.store.ledgers.items()
            for node, s in ledger.stock().items()
        }


async def run_memory_loop(
    network: Network,
    config: SimConfig,
    days: int,
    *,
    alpha: float = 0.1,
    horizon_days: int = 28,
    batch: int = 500,
    on_day: Any = None,
) -> MemoryLoopResult:
    """Simulate `days` days against stockline's pipeline on the in-memory store, acting
    on its signals; `on_day(day, fill)` is called after each day (a progress bar). `alpha`
    and `horizon_days` default to the worker's (`Settings.demand_alpha`, `demand_horizon_days`)."""
    clock = EpochClock()
    sim = Simulator(network, config, clock)
    loop = _Loop(network, Planner(network, alpha, horizon_days), batch)
    skus = [spec.sku for spec in sim.demand.catalogue]
    await loop.feed(sim.opening())
    await loop.sweep(clock.stamp(0), skus)
    signals = loop.drain()
    for day in range(days):
        await loop.feed(_day(sim, day, signals))
        await loop.sweep(clock.stamp(day * DAY_US), skus)
        signals = loop.drain()
        if on_day is not None:
            on_day(day, sim.tally.daily_fill[-1])
    units, differing = divergence(sim.book, loop.records())
    return MemoryLoopResult(compute(sim.tally, days, units), loop.counts, differing, sim)


def _day(
    sim: Simulator, day: int, signals: list[tuple[str, SignalRecord]]
) -> Iterator[InventoryEvent]:
    yield from sim.day(day, signals)
