"""The two ways to run the simulator against Kafka.

- Open loop: events at a target rate, stamped with the real clock, replenished by the
  simulator's own planner (`planner.InternalPlanner`); nothing is read back.
- Closed loop: simulated days stamped onto the last `days` UTC days (`model.WindowClock`).
  Each day starts by acting on the signals read so far: those ASNs and transfers are
  published and the loop waits until the workers applied them (`wait_applied`); then the
  rest of the day is published, the loop waits again and reads the signals and per-node
  ATP records it caused. Published in one burst, a worker could review a node with the
  day's demand (other topics) before its ASN and reorder the same gap twice. At the end
  the simulator's book is compared with the latest `inventory.atp.nodes` record of every
  (node, sku).
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from stockline.contracts.rfc3339 import render_utc
from stockline.domain.events import InventoryEvent
from stockline.domain.network import Network
from stockline.settings import Settings
from stockline.simulation.generator import SimConfig, Simulator
from stockline.simulation.kafka_io import SimKafka
from stockline.simulation.kpi import Kpis, compute
from stockline.simulation.model import WallClock, WindowClock
from stockline.simulation.stock import Key, divergence


@dataclass(frozen=True)
class ClosedLoopResult:
    kpis: Kpis
    signals: dict[str, int]
    """Signals read per kind (reorder, rebalance)."""
    differing: list[Key]
    """(node, sku) whose stock differs between the book and stockline (empty when in sync)."""
    simulator: Simulator


async def run_closed_loop(
    settings: Settings,
    network: Network,
    config: SimConfig,
    days: int,
    *,
    day_seconds: float = 0.0,
    label: str = "closed loop",
) -> ClosedLoopResult:
    """Simulate `days` days against the workers of `settings`' consumer group, acting on their
    signals. `day_seconds` is the least real time one simulated day takes."""
    from tqdm import tqdm  # the tools extra, so imported only here

    sim = Simulator(network, config, WindowClock.ending_today(days))
    counts = {"reorder": 0, "rebalance": 0}
    async with SimKafka(settings) as io:
        signals = await _step(io, sim, sim.opening(), counts)
        with tqdm(total=days, desc=label, unit="day", leave=False, file=sys.stderr) as bar:
            for day in range(days):
                started = time.monotonic()
                # the day's supply first, applied before its demand is published: a
                # review must not see the day's demand without the ASNs ordered for it
                await io.publish(sim.reactions(day, signals))
                await io.wait_applied()
                signals = await _step(io, sim, sim.trading(day), counts)
                bar.set_postfix(fill=f"{sim.tally.daily_fill[-1]:.3f}", signals=len(signals))
                bar.update()
                await asyncio.sleep(max(0.0, day_seconds - (time.monotonic() - started)))
        ours = {s.sku for s in sim.demand.catalogue}
        units, differing = divergence(
            sim.book, {key: r for key, r in io.nodes.items() if key[1] in ours}
        )
    return ClosedLoopResult(compute(sim.tally, days, units), counts, differing, sim)


async def _step(
    io: SimKafka,
    sim: Simulator,
    events: Iterator[InventoryEvent] | list[InventoryEvent],
    counts: dict[str, int],
) -> list[tuple[str, Any]]:
    await io.publish(events)
    await io.wait_applied()
    signals = await io.drain()
    for kind, _ in signals:
        counts[kind] += 1
    _learn_buffers(sim, io.nodes)
    return signals


def _learn_buffers(sim: Simulator, records: dict[Key, dict[str, Any]]) -> None:
    """Promise as stockline does: hold back the buffer its node records carry."""
    for key, record in records.items():
        sim.book.buffer[key] = int(record["buffer"])


def open_loop_events(sim: Simulator) -> Iterator[InventoryEvent]:
    """Opening stock, then day after day without end, replenished by the internal planner."""
    yield from sim.opening()
    signals = sim.planner.decide(sim.book, render_utc(0))
    for day in itertools.count():
        yield from sim.day(day, signals)
        signals = sim.planner.decide(sim.book, render_utc(0))


async def run_open_loop(
    settings: Settings,
    network: Network,
    config: SimConfig,
    *,
    rate: float,
    events: int | None = None,
    seconds: float | None = None,
) -> Simulator:
    """Publish about `rate` events per second until `events` were sent or `seconds` passed
    (at least one of them must be given). Returns the simulator, for its tally."""
    if events is None and seconds is None:
        raise ValueError("give events or seconds")
    from tqdm import tqdm  # the tools extra, so imported only here

    sim = Simulator(network, config, WallClock())
    stream = open_loop_events(sim)
    chunk = max(1, int(rate / 20))
    started, sent = time.monotonic(), 0
    async with SimKafka(settings, consume=False) as io:
        with tqdm(total=events, desc="open loop", unit="ev", leave=False, file=sys.stderr) as bar:
            while not _done(sent, events, time.monotonic() - started, seconds):
                take = chunk if events is None else min(chunk, events - sent)
                sent += await io.publish(itertools.islice(stream, take))
                bar.update(take)
                await asyncio.sleep(max(0.0, started + sent / rate - time.monotonic()))
    return sim


def _done(sent: int, events: int | None, elapsed: float, seconds: float | None) -> bool:
    return (events is not None and sent >= events) or (seconds is not None and elapsed >= seconds)
