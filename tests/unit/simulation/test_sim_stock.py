"""The simulator's book keeps holds as the ledger does: a held unit is not promised again,
and a hold ends when released or committed by an order naming it at its node."""

from __future__ import annotations

from stockline.domain.events import (
    HoldPlaced,
    HoldReleased,
    HoldReleaseReason,
    OrderPlaced,
    Receipt,
)
from stockline.simulation.stock import StockBook, divergence

KEY = ("STORE-1", "TV-1")


def book_with_a_hold(qty: int = 3) -> StockBook:
    book = StockBook()
    book.apply(Receipt("e1", 1, "t", *KEY, 10))
    book.apply(HoldPlaced("e2", 2, "t", *KEY, qty, "R-1", expires_us=900))
    return book


def test_a_held_unit_is_not_promised_or_shipped() -> None:
    book = book_with_a_hold()
    book.buffer[KEY] = 2
    assert (book.held(KEY), book.free(KEY), book.atp(KEY)) == (3, 7, 5)
    assert book.stock(KEY).atp(2) == 5
    assert book.position(KEY) == book.stock(KEY).position() == 7


def test_a_release_ends_the_hold() -> None:
    book = book_with_a_hold()
    book.apply(HoldReleased("e3", 3, "t", *KEY, "R-1", HoldReleaseReason.EXPIRED))
    assert (book.held(KEY), book.atp(KEY)) == (0, 10)


def test_an_order_naming_the_hold_commits_it_into_a_reservation() -> None:
    book = book_with_a_hold()
    book.apply(OrderPlaced("e3", 3, "t", *KEY, 3, "SO-1", reservation_id="R-1"))
    level = book.level(KEY)
    assert (level.reserved, level.held, book.atp(KEY)) == (3, 0, 7)


def test_an_order_naming_the_hold_at_another_node_leaves_it_open() -> None:
    book = book_with_a_hold()
    book.apply(OrderPlaced("e3", 3, "t", "DC-1", "TV-1", 1, "SO-1", reservation_id="R-1"))
    assert book.held(KEY) == 3


def test_divergence_counts_held_units() -> None:
    book = book_with_a_hold()
    record = {"on_hand": 10, "reserved": 0, "inbound": 0}
    assert divergence(book, {KEY: {**record, "held": 3}}) == (0, [])
    assert divergence(book, {KEY: {**record, "held": 0}}) == (3, [KEY])
