"""Worked examples of the retention rules (domain/retention.py): what a ledger forgets at a
batch's time. The window is a week unless a case says otherwise; times in microseconds."""

from __future__ import annotations

from dataclasses import replace

import pytest
from tests.unit.domain.ledger_events import (
    DC,
    SKU,
    cycle_count,
    hold_placed,
    hold_released,
    inbound_expected,
    order_cancelled,
    order_placed,
    pick,
    receipt,
)

from stockline.domain.effects import US_PER_DAY, day_of
from stockline.domain.ledger import NodeStock, Outcome, SkuLedger
from stockline.domain.retention import WEEK_US, Retention

WEEK = Retention(WEEK_US)
NOW = 1_795_000_000_000_000  # 2026-11-18T08:26:40Z
DAY = US_PER_DAY


class TestEventIds:
    @pytest.mark.parametrize(
        ("applied", "remembered"),
        [
            (NOW - WEEK_US, True),  # exactly a week ago: the window's last microsecond
            (NOW - WEEK_US - 1, False),  # a microsecond more
            (NOW, True),
            (NOW + 5, True),  # a batch stamped later (another worker's clock): kept
        ],
    )
    def test_an_event_id_is_remembered_for_the_window(self, applied: int, remembered: bool) -> None:
        assert WEEK.remembers_event(applied, NOW) is remembered

    def test_a_forgotten_event_id_is_applied_again(self) -> None:
        ledger = SkuLedger(SKU)
        ledger.apply(receipt(10, event_id="old"), NOW - WEEK_US - 1)
        ledger.apply(receipt(3, event_id="new"), NOW - WEEK_US)
        ledger.forget(WEEK, NOW)
        # "old" was forgotten: applied again, 10 + 3 + 10 = 23; "new" is still a duplicate
        assert ledger.apply(receipt(10, event_id="old"), NOW) is Outcome.APPLIED
        assert ledger.apply(receipt(3, event_id="new"), NOW) is Outcome.DUPLICATE
        assert ledger.stock() == {DC: NodeStock(on_hand=23)}
        assert ledger.seen == {"old": NOW, "new": NOW - WEEK_US}


class TestEntries:
    def test_the_expiry_is_the_window_in_whole_seconds_rounded_up(self) -> None:
        assert WEEK.expiry_s == 604_800
        assert Retention(1_500_000).expiry_s == 2  # 1.5 s -> 2 s
        assert Retention(1).expiry_s == 1  # at least a second

    @pytest.mark.parametrize(
        ("units", "changed", "kept"),
        [
            (0, NOW - WEEK_US + 1, True),  # empty, changed a microsecond inside the week
            (0, NOW - WEEK_US, False),  # empty, a full week since its change: expired
            (1, NOW - 52 * WEEK_US, True),  # holds a unit: kept however old
        ],
    )
    def test_an_entry_that_holds_nothing_expires_a_window_after_its_change(
        self, units: int, changed: int, kept: bool
    ) -> None:
        assert WEEK.keeps_entry(units, changed, NOW) is kept

    def test_empty_lines_supplies_and_holds_are_forgotten_and_live_ones_kept(self) -> None:
        ledger = SkuLedger(SKU)
        then = NOW - WEEK_US
        for event in [
            order_cancelled("o-1"),  # a cancel before its order: line empty
            order_placed(3, "o-2"),  # reserves 3
            receipt(5, asn_id="a-1"),  # received before expected: supply empty
            inbound_expected(4, "a-2"),  # inbound 4
            hold_released("r-1"),  # a release before its hold: hold empty
            hold_placed(2, "r-2"),  # holds 2
        ]:
            ledger.apply(event, then)
        ledger.forget(WEEK, NOW)
        node = ledger.nodes[DC]
        kept = (set(node.lines), set(node.supplies), set(node.holds))
        assert kept == ({"o-2"}, {"asn:a-2"}, {"r-2"})
        # the late events of the forgotten entries count in full now:
        # reserved 3 + 5 = 8; inbound 4 + 6 = 10; held 2 + 1 = 3; on_hand 5
        for event in [order_placed(5, "o-1"), inbound_expected(6, "a-1"), hold_placed(1, "r-1")]:
            ledger.apply(event, NOW)
        assert ledger.stock() == {DC: NodeStock(on_hand=5, reserved=8, inbound=10, held=3)}

    def test_a_change_restarts_the_expiry(self) -> None:
        ledger = SkuLedger(SKU)
        ledger.apply(order_cancelled("o-1"), NOW - WEEK_US)
        ledger.apply(order_cancelled("o-1", event_id="again"), NOW - 1)
        ledger.forget(WEEK, NOW)
        assert set(ledger.nodes[DC].lines) == {"o-1"}

    def test_empty_entries_changed_inside_the_window_are_kept(self) -> None:
        ledger = SkuLedger(SKU)
        for event in [order_cancelled("o-1"), receipt(5, asn_id="a-1"), hold_released("r-1")]:
            ledger.apply(event, NOW - WEEK_US + 1)  # empty, a microsecond inside the week
        ledger.forget(WEEK, NOW)
        node = ledger.nodes[DC]
        assert (set(node.lines), set(node.supplies), set(node.holds)) == (
            {"o-1"}, {"asn:a-1"}, {"r-1"},
        )  # fmt: skip
        # late events find them: the order stays cancelled, the ASN received, the hold ended
        for event in [order_placed(3, "o-1"), inbound_expected(5, "a-1"), hold_placed(2, "r-1")]:
            ledger.apply(event, NOW)
        assert ledger.stock() == {DC: NodeStock(on_hand=5)}


class TestDeltas:
    @pytest.mark.parametrize(
        ("occurred", "kept"), [(NOW - WEEK_US, True), (NOW - WEEK_US - 1, False)]
    )
    def test_a_trim_keeps_the_deltas_inside_the_window(self, occurred: int, kept: bool) -> None:
        assert WEEK.keeps_delta(occurred, NOW) is kept

    @pytest.mark.parametrize(("trim_day", "trims"), [(day_of(NOW) - 1, True), (day_of(NOW), False)])
    def test_deltas_are_trimmed_once_a_utc_day(self, trim_day: int, trims: bool) -> None:
        assert WEEK.trims_deltas(trim_day, NOW) is trims

    def test_a_delta_on_a_later_day_drops_the_deltas_older_than_the_window(self) -> None:
        ledger = SkuLedger(SKU)
        first = NOW - 2 * DAY
        outside = replace(receipt(7), occurred_us=NOW - WEEK_US - 1)
        inside = replace(receipt(4), occurred_us=NOW - WEEK_US)
        for event in (outside, inside):
            ledger.apply(event, first, WEEK)  # the node's first day: nothing trimmed
        assert len(ledger.nodes[DC].deltas) == 2
        ledger.apply(replace(pick(1), occurred_us=NOW), NOW, WEEK)
        node = ledger.nodes[DC]
        # on_hand stays 7 + 4 - 1 = 10; only the deltas inside the window are left
        assert (node.on_hand, sorted(q for _, q in node.deltas.values())) == (10, [-1, 4])
        assert node.trim_day == day_of(NOW)
        # a count older than the window (one the codec rejects) sees only those: 0 + 4 - 1
        ledger.apply(replace(cycle_count(0), occurred_us=NOW - 30 * DAY), NOW, WEEK)
        assert ledger.stock() == {DC: NodeStock(on_hand=3)}

    def test_a_delta_inside_the_count_trims_nothing(self) -> None:
        ledger = SkuLedger(SKU)
        first = NOW - 2 * DAY
        ledger.apply(replace(cycle_count(0), occurred_us=NOW - 30 * DAY), first, WEEK)
        ledger.apply(replace(receipt(7), occurred_us=NOW - WEEK_US - 1), first, WEEK)
        # a pick from before the count moves no on_hand, so it is not the day's first delta
        ledger.apply(replace(pick(1), occurred_us=NOW - 31 * DAY), NOW, WEEK)
        node = ledger.nodes[DC]
        assert (node.on_hand, len(node.deltas), node.trim_day) == (7, 1, day_of(first))

    def test_without_a_retention_nothing_is_trimmed(self) -> None:
        ledger = SkuLedger(SKU)
        ledger.apply(replace(receipt(7), occurred_us=NOW - 30 * DAY), NOW - 29 * DAY)
        ledger.apply(replace(pick(1), occurred_us=NOW), NOW)
        assert len(ledger.nodes[DC].deltas) == 2
