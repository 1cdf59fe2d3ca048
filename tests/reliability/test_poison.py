"""Issue #7.3: poison messages mixed into a valid stream at 1 in 1,000. Every message read is
accounted for exactly (consumed = applied + duplicates + DLQ), the worker never stops, and
every DLQ record carries the original bytes and the reason.

Poison kinds, in turn: malformed JSON, schema-invalid, unknown schema version, unknown
event type, out-of-range qty, bad node id, empty event id, over 64 KiB, key != sku.
Short (CI): 18,000 valid events (+5% duplicates, 18 poison); `--soak`: 200,000 valid.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from stockline.domain.events import Event
from tests.integration.conftest import spawn
from tests.integration.feed import feed
from tests.integration.harness import Producer, WorkerProcess, World, eventually, read_topic
from tests.reliability.checks import (
    LedgerProbe,
    divergent_cells,
    end_offsets,
    metric,
    outcomes,
    status,
)
from tests.reliability.conftest import Sizes
from tests.reliability.stories import POISON_KINDS, Poison, poison_message
from tests.unit.domain.reference import reference_fold

pytestmark = [pytest.mark.kafka, pytest.mark.redis, pytest.mark.reliability]

EVERY = 1_000


async def publish_with_poison(
    producer: Producer, events: list[Event], run: str
) -> dict[tuple[str, int, int], Poison]:
    """Valid events in chunks of 1,000, one poison message after each chunk; returns the
    poison by (topic, partition, offset)."""
    sent: dict[tuple[str, int, int], Poison] = {}
    for n in range(0, len(events), EVERY):
        await producer.events(events[n : n + EVERY])
        bad = poison_message(n // EVERY, run)
        partition, offset = await producer.raw(bad.topic, bad.value, bad.key)
        sent[producer.world.topic(bad.topic), partition, offset] = bad
    return sent


def check_dlq_records(records: list[Any], sent: dict[tuple[str, int, int], Poison]) -> None:
    remaining = dict(sent)
    for record in records:
        headers = {name: value.decode() for name, value in record.headers}
        origin = (
            headers["source_topic"],
            int(headers["source_partition"]),
            int(headers["source_offset"]),
        )
        bad = remaining.pop(origin)
        assert (record.value, record.key) == (bad.value, bad.key), bad.kind
        assert headers["reason"] == bad.reason.value, bad.kind
        assert headers["detail"], bad.kind
    assert remaining == {}


async def test_poison_is_dead_lettered_and_every_message_is_accounted_for(
    world: World,
    workers: list[WorkerProcess],
    probe: LedgerProbe,
    sizes: Sizes,
    tmp_path: Path,
    figures: dict[str, str],
) -> None:
    valid = feed(
        303, skus=sizes.pick(300, 5_000), events=sizes.pick(18_000, 200_000), run=world.run
    )
    rng = random.Random(303)
    duplicates = rng.sample(valid, len(valid) // 20)
    stream = valid + duplicates
    rng.shuffle(stream)
    await world.create_topics()
    worker = spawn(workers, world, tmp_path)
    async with Producer(world) as producer:
        sent = await publish_with_poison(producer, stream, world.run)
    consumed = sum((await end_offsets(world)).values())
    assert consumed == len(stream) + len(sent)

    counted = await eventually(lambda: outcomes(worker), lambda o: o.total() >= consumed)
    records = await read_topic(world, "inventory.dlq", expect=len(sent), timeout=30)
    got = await probe.ledger(sorted(reference_fold(valid)))
    name = f"3 poison ({consumed:,} consumed, 1 in {EVERY:,} poison)"
    figures[f"{name}: applied + duplicates + DLQ"] = (
        f"{counted['applied']:,} + {counted['duplicate']:,} + {len(records)} "
        f"= {counted['applied'] + counted['duplicate'] + len(records):,}"
    )
    assert worker.proc is not None
    assert worker.proc.poll() is None, "the worker stopped"
    # the lag gauge is refreshed every lag_interval_s: wait for the refresh after the last batch
    assert (await eventually(lambda: status(worker), lambda s: s.lag == 0, timeout=10)).lag == 0
    assert counted["applied"] == len(valid)
    assert counted["duplicate"] == len(duplicates)
    assert counted["rejected"] == len(sent) == len(records)
    assert counted["applied"] + counted["duplicate"] + len(records) == consumed
    assert await metric(worker, "stockline_dlq_writes_total") == len(sent)
    assert len({p.kind for p in sent.values()}) == min(POISON_KINDS, len(sent))
    check_dlq_records(records, sent)
    assert divergent_cells(got, reference_fold(valid)) == 0
