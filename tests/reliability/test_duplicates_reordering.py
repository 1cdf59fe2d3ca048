"""Issue #7.2: 5% duplicate event_ids, cross-topic reordering, late deltas around cycle counts,
picks and cancels before their orders: the ledger equals the reference fold of the set.

The events go out in three phases, each waited for before the next, so the worker really
sees them in the adversarial order: (0) picks and cancels of orders not placed yet, receipts
of ASNs and transfers not announced yet, some deltas from before and after a count;
(1) the cycle counts, two per SKU at the same instant; (2) the orders, ASNs and shipments,
the remaining deltas around the counts and a late older count. 5% of the events are
published twice. Short (CI): 300 SKUs (about 9,000 messages); `--soak`: 10,000 SKUs.

With a network of static policies (issue #17): the signal topics then keep the review rule,
every id repeats only as a replay (none here: one worker, no crash), and every (node, sku)
the reference leaves at or below its reorder point has signals bringing it to order_up_to
(`checks.judge_signals`); the worker counted exactly what is on the topics.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Stack
from tests.integration.conftest import spawn
from tests.integration.harness import Producer, WorkerProcess, World, eventually, scrape
from tests.reliability.checks import (
    LANES,
    NO_SWEEP,
    SIGNAL_KINDS,
    LedgerProbe,
    MinMax,
    SignalNetwork,
    cell_count,
    divergent_cells,
    outcomes,
    seen_report,
    settled_atp,
    settled_signals,
    signals_counted,
)
from tests.reliability.conftest import Sizes, TunedWorld
from tests.reliability.stories import adversarial_phases, on_one_utc_day
from tests.unit.domain.reference import reference_fold

pytestmark = [pytest.mark.kafka, pytest.mark.redis, pytest.mark.reliability]

# A story's own node ends around its counted 0-500 units, the node it ships from below 0.
NETWORK = SignalNetwork(
    MinMax(reorder_point=150, order_up_to=300, case_pack=5, moq=20, lead_time_days=7), LANES
)


@pytest.fixture
def world(stack: Stack, tmp_path: Path) -> World:
    return TunedWorld(
        bootstrap=stack.kafka_bootstrap,
        redis_url=stack.redis_url,
        network_file=NETWORK.write(tmp_path),
        overrides=NO_SWEEP,
    )


def reached(n: int) -> Callable[[Counter[str]], bool]:
    return lambda counted: counted.total() >= n


async def test_duplicates_and_adversarial_order_give_the_reference_ledger(
    world: World,
    workers: list[WorkerProcess],
    probe: LedgerProbe,
    sizes: Sizes,
    tmp_path: Path,
    figures: dict[str, str],
) -> None:
    phases = on_one_utc_day(*adversarial_phases(202, skus=sizes.pick(300, 10_000), run=world.run))
    sent = [e for phase in phases for e in phase]
    distinct = {e.event_id: e for e in sent}
    expected = reference_fold(sent)
    await world.create_topics()
    worker = spawn(workers, world, tmp_path)

    published = 0
    async with Producer(world) as producer:
        for phase in phases:
            await producer.events(phase)
            published += len(phase)
            done = await eventually(lambda: outcomes(worker), reached(published))
            assert done.total() == published, worker.log_tail()

    got = await probe.ledger(sorted(expected))
    counted = await outcomes(worker)
    divergent = divergent_cells(got, expected)
    seen = seen_report(await probe.seen(sorted(expected)), sent)
    name = f"2 duplicates+reordering ({len(sent):,} messages, {cell_count(expected):,} cells)"
    figures[f"{name}: divergent ledger cells"] = str(divergent)
    figures[f"{name}: duplicates sent / counted"] = (
        f"{len(sent) - len(distinct)} / {counted['duplicate']}"
    )
    atp = await settled_atp(world, probe, expected)
    figures[f"{name}: divergent ATP cells"] = str(atp.divergent)
    signals = await settled_signals(world, NETWORK, sent)
    counted_signals = signals_counted(await scrape(worker))
    figures[f"{name}: signals (reorder, rebalance), short (node, sku) at the end, faults"] = (
        f"{signals.distinct['reorder']}, {signals.distinct['rebalance']}, {signals.short}, "
        f"{signals.faults() or 'none'}"
    )
    assert divergent == 0
    assert (seen.missing, seen.unexpected) == (0, 0)
    assert (atp.divergent, atp.regressed, atp.malformed, atp.unpublished) == (0, 0, 0, 0), (
        atp.examples
    )
    assert counted["applied"] == len(distinct)
    assert counted["duplicate"] == len(sent) - len(distinct)
    assert signals.faults() == {}, signals.examples
    assert signals.short > 0
    assert min(signals.distinct[kind] for kind in SIGNAL_KINDS) > 0
    # one worker that never crashed: no batch was replayed, so every id went out once, and
    # the worker counted each record it published
    assert signals.records == signals.distinct
    assert counted_signals == signals.records
