"""Issue #7.2: 5% duplicate event_ids, cross-topic reordering, late deltas around cycle counts,
picks and cancels before their orders: the ledger equals the reference fold of the set.

The events go out in three phases, each waited for before the next, so the worker really
sees them in the adversarial order: (0) picks and cancels of orders not placed yet, receipts
of ASNs and transfers not announced yet, some deltas from before and after a count;
(1) the cycle counts, two per SKU at the same instant; (2) the orders, ASNs and shipments,
the remaining deltas around the counts and a late older count. 5% of the events are
published twice. Short (CI): 300 SKUs (about 9,000 messages); `--soak`: 10,000 SKUs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import spawn
from tests.integration.harness import Producer, WorkerProcess, World, eventually
from tests.reliability.checks import (
    LedgerProbe,
    cell_count,
    divergent_cells,
    outcomes,
    seen_report,
    settled_atp,
)
from tests.reliability.conftest import Sizes
from tests.reliability.stories import adversarial_phases
from tests.unit.domain.reference import reference_fold

pytestmark = [pytest.mark.kafka, pytest.mark.redis, pytest.mark.reliability]


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
    phases = adversarial_phases(202, skus=sizes.pick(300, 10_000), run=world.run)
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
    assert divergent == 0
    assert (seen.missing, seen.unexpected) == (0, 0)
    assert (atp.divergent, atp.regressed, atp.malformed, atp.unpublished) == (0, 0, 0, 0), (
        atp.examples
    )
    assert counted["applied"] == len(distinct)
    assert counted["duplicate"] == len(sent) - len(distinct)
