"""What one batch of deliveries does to a SKU's ledger beside the fold (docs/design.md
section 3): which deliveries are redelivered, which nodes went below zero, which nodes
moved and so what version the SKU is at afterwards.

The in-memory store runs these functions; apply.lua mirrors each one (its comments name
the function), and the store contract tests hold both to the same cases.
"""

from __future__ import annotations

from dataclasses import dataclass

from stockline.domain.ledger import NodeStock, next_version


def redelivered(offset: int, applied_before: int, earlier_in_batch: bool) -> bool:
    """A delivery is redelivered (changes nothing, republishes what its event touched) when
    its offset is at or below the last one the SKU's ledger shard had applied from that
    partition before the batch (`applied_before`, -1 when none), or when the same position
    came earlier in the batch. Offsets count per (shard, partition): another shard's, or
    another partition's, do not matter."""
    return offset <= applied_before or earlier_in_batch


def went_negative(on_hand_before: int, on_hand_after: int) -> bool:
    """A node crossed below zero in the batch: on_hand was 0 or more before it (0 for a node
    new to the SKU) and is below 0 after it. Counted once per node and batch; a node already
    below zero going further down is no new crossing."""
    return on_hand_after < 0 <= on_hand_before


@dataclass(frozen=True, slots=True)
class Published:
    """What a node's last published record was computed with."""

    atp: int
    buffer: int
    channels: frozenset[str]


def moved(
    before: NodeStock | None, after: NodeStock, last: Published | None, now: Published
) -> bool:
    """A node an event of the batch touched moved (its record goes out) when it had no
    record yet (`before` and `last` None), its stock changed, or the ATP, buffer or
    channels of its record would change."""
    return before is None or last is None or before != after or last != now


def version_after(version: int, batch_us: int, any_moved: bool) -> int:
    """A SKU's version after a batch: one bump (`next_version`) when any node moved, however
    many events it applied; unchanged when none did (all duplicates or redeliveries, or
    applied events that changed no record)."""
    return next_version(version, batch_us) if any_moved else version
