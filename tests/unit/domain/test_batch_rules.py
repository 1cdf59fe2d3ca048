"""Worked examples of the batch rules (domain/batch.py): redelivered offsets, crossings
below zero, moved nodes and the version after a batch."""

from __future__ import annotations

import pytest

from stockline.domain.batch import Published, moved, redelivered, version_after, went_negative
from stockline.domain.ledger import NodeStock

BATCH_US = 1_795_000_000_000_000


@pytest.mark.parametrize(
    ("offset", "applied_before", "earlier_in_batch", "again"),
    [
        (7, 7, False, True),  # the last offset applied before the batch
        (3, 7, False, True),  # below it
        (8, 7, False, False),  # the next one
        (8, 7, True, True),  # the same position earlier in the batch
        (0, -1, False, False),  # nothing applied from the partition yet
    ],
)
def test_a_delivery_is_redelivered_at_or_below_the_last_offset_applied(
    offset: int, applied_before: int, earlier_in_batch: bool, again: bool
) -> None:
    assert redelivered(offset, applied_before, earlier_in_batch) is again


@pytest.mark.parametrize(
    ("before", "after", "crossed"),
    [
        (2, -1, True),  # 2 - 3
        (0, -1, True),  # a new node (0 before) picked from
        (5, 0, False),  # down to zero is not below it
        (-1, -4, False),  # already below zero
        (-2, 3, False),  # back above zero
    ],
)
def test_a_crossing_below_zero(before: int, after: int, crossed: bool) -> None:
    assert went_negative(before, after) is crossed


RECORD = Published(atp=8, buffer=2, channels=frozenset({"web"}))
STOCK = NodeStock(on_hand=10)


@pytest.mark.parametrize(
    ("before", "after", "last", "now", "moves"),
    [
        (None, NodeStock(), None, Published(0, 0, frozenset()), True),  # new: all zeros
        (STOCK, STOCK, RECORD, RECORD, False),  # touched, nothing changed (a duplicate)
        (STOCK, NodeStock(10, inbound=4), RECORD, RECORD, True),  # inbound: ATP stays
        (STOCK, STOCK, RECORD, Published(7, 3, frozenset({"web"})), True),  # a new buffer
        (STOCK, STOCK, RECORD, Published(8, 2, frozenset()), True),  # left a channel
    ],
)
def test_a_touched_node_moves_when_its_record_would_change(
    before: NodeStock | None, after: NodeStock, last: Published | None, now: Published, moves: bool
) -> None:
    assert moved(before, after, last, now) is moves


@pytest.mark.parametrize(
    ("version", "any_moved", "after"),
    [
        (0, True, BATCH_US),  # first change: the batch's time
        (BATCH_US, True, BATCH_US + 1),  # a second batch in the same microsecond
        (BATCH_US + 900, True, BATCH_US + 901),  # a version ahead of the batch's clock
        (BATCH_US - 5, False, BATCH_US - 5),  # nothing moved: no bump
    ],
)
def test_the_version_rises_once_per_batch_that_moved_a_node(
    version: int, any_moved: bool, after: int
) -> None:
    assert version_after(version, BATCH_US, any_moved) == after
