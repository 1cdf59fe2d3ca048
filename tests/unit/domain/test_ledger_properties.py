"""The core promise of DESIGN.md section 3, as properties: the ledger is a pure function of
the set of distinct events, whatever their arrival order and however often each arrives.
SkuLedger is checked against the independent reference fold in reference.py.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.domain.ledger_events import arrivals, event_sets, on_hand_event_sets
from tests.unit.domain.reference import Stock, reference_fold

from stockline.domain.events import InventoryEvent
from stockline.domain.ledger import Outcome, SkuLedger

PROPERTIES = settings(max_examples=200, deadline=None)


def ledger_stock(ledgers: dict[str, SkuLedger]) -> dict[str, dict[str, Stock]]:
    return {
        sku: {
            node: (s.on_hand, s.reserved, s.inbound, s.held) for node, s in ledger.stock().items()
        }
        for sku, ledger in sorted(ledgers.items())
    }


def assert_folds_to_the_reference(deliveries: list[InventoryEvent]) -> None:
    ledgers: dict[str, SkuLedger] = {}
    seen: list[InventoryEvent] = []
    for event in deliveries:
        ledger = ledgers.setdefault(event.sku, SkuLedger(event.sku))
        outcome = ledger.apply(event)
        assert outcome is (Outcome.DUPLICATE if event in seen else Outcome.APPLIED)
        seen.append(event)
        # after every delivery, not just the last: each prefix is a set of events too
        assert ledger_stock(ledgers) == reference_fold(seen)


@PROPERTIES
@given(data=st.data(), events=event_sets())
def test_any_arrival_order_and_duplication_folds_to_the_reference(
    data: st.DataObject, events: list[InventoryEvent]
) -> None:
    assert_folds_to_the_reference(data.draw(arrivals(events), label="deliveries"))


@PROPERTIES
@given(data=st.data(), events=on_hand_event_sets())
def test_counts_and_deltas_at_one_node_fold_to_the_reference(
    data: st.DataObject, events: list[InventoryEvent]
) -> None:
    assert_folds_to_the_reference(data.draw(arrivals(events), label="deliveries"))


@PROPERTIES
@given(data=st.data(), events=event_sets())
def test_two_arrival_orders_of_the_same_events_give_the_same_stock(
    data: st.DataObject, events: list[InventoryEvent]
) -> None:
    first = data.draw(arrivals(events), label="first")
    second = data.draw(arrivals(events), label="second")
    results = []
    for deliveries in (first, second):
        ledgers: dict[str, SkuLedger] = {}
        for event in deliveries:
            ledgers.setdefault(event.sku, SkuLedger(event.sku)).apply(event)
        results.append(ledger_stock(ledgers))
    assert results[0] == results[1]


@PROPERTIES
@given(events=event_sets())
def test_redelivering_everything_changes_nothing(events: list[InventoryEvent]) -> None:
    ledgers: dict[str, SkuLedger] = {}
    for event in events:
        ledgers.setdefault(event.sku, SkuLedger(event.sku)).apply(event)
    before = ledger_stock(ledgers)
    outcomes = [ledgers[event.sku].apply(event) for event in reversed(events)]
    assert outcomes == [Outcome.DUPLICATE] * len(events)
    assert ledger_stock(ledgers) == before
