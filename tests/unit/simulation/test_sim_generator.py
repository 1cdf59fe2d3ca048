"""The generator: deterministic by seed, Zipf-skewed, every event type, a hold before every
order, events stockline accepts, and a book that equals the ledger's reference fold."""

from __future__ import annotations

from collections import Counter

from tests.unit.domain.reference import reference_fold
from tests.unit.simulation.sim_world import NOW_US, clock

from stockline.contracts.codec import Rejection, decode, encode
from stockline.domain.events import (
    EVENT_TYPES,
    HoldPlaced,
    HoldReleased,
    HoldReleaseReason,
    InventoryEvent,
    OrderPlaced,
    event_type_of,
)
from stockline.domain.network import Network
from stockline.simulation.generator import (
    CHECKOUT_MAX_US,
    CHECKOUT_MIN_US,
    HOLD_TTL_US,
    SimConfig,
    Simulator,
)
from stockline.simulation.model import CLASS_BANDS, WallClock, build_catalogue, zipf_weights
from stockline.simulation.runner import open_loop_events

RETENTION_US = 7 * 86_400 * 1_000_000


def run(network: Network, seed: int = 7, days: int = 14) -> tuple[Simulator, list[InventoryEvent]]:
    sim = Simulator(network, SimConfig(seed=seed, tag="t1"), clock(days))
    events = list(sim.opening())
    for day in range(days):
        events += sim.day(day, sim.planner.decide(sim.book, "2026-11-01T00:00:00Z"))
    return sim, events


def test_the_same_seed_gives_the_same_events_and_another_seed_others(example: Network) -> None:
    _, first = run(example, seed=3, days=3)
    _, again = run(example, seed=3, days=3)
    _, other = run(example, seed=4, days=3)
    assert first == again
    assert first != other


def test_zipf_weights_fall_with_rank_and_sum_to_one() -> None:
    weights = zipf_weights(4, 1.0)
    # 1, 1/2, 1/3, 1/4 over their sum 25/12
    assert [round(w, 4) for w in weights] == [0.48, 0.24, 0.16, 0.12]


def test_the_catalogue_follows_the_network_class_rules(example: Network) -> None:
    catalogue = build_catalogue(example, 40, 1.1, "x")
    counts = Counter(spec.sku_class for spec in catalogue)
    assert [counts[c] for c, _ in CLASS_BANDS] == [8, 12, 20]
    assert all(example.class_of(spec.sku) is spec.sku_class for spec in catalogue)
    assert [s.sku_class.value for s in catalogue[7:9]] == ["A", "B"]


def test_demand_is_skewed_towards_the_most_popular_skus(example: Network) -> None:
    sim, events = run(example, days=7)
    ordered = Counter(e.sku for e in events if isinstance(e, OrderPlaced))
    ranks = [spec.sku for spec in sim.demand.catalogue]
    assert ordered[ranks[0]] > 5 * ordered[ranks[9]]
    assert ordered[ranks[0]] > ordered[ranks[1]] > ordered[ranks[4]]


def test_every_event_type_appears_with_increasing_times(example: Network) -> None:
    _, events = run(example)
    # transfers and lost sales need shortages, which the closed-loop tests provoke
    rare = {"transfer_shipped", "transfer_received", "lost_sale"}
    # every checkout ends within the hold's TTL, so the storefront never extends a hold
    never = {"hold_extended"}
    emitted = {event_type_of(e) for e in events}
    assert emitted >= set(EVENT_TYPES) - rare - never
    assert not emitted & never
    times = [e.occurred_us for e in events]
    assert times == sorted(times)
    assert len(set(times)) == len(times)
    assert len({e.event_id for e in events}) == len(events)


def test_every_event_decodes_without_rejection_at_the_real_now(example: Network) -> None:
    _, events = run(example)
    for event in events:
        decoded = decode(
            encode(event), event.sku.encode(), now_us=NOW_US, retention_us=RETENTION_US
        )
        assert not isinstance(decoded, Rejection), (event, decoded)
        assert decoded == event


def test_cycle_counts_only_in_the_last_six_days_of_a_long_window(example: Network) -> None:
    _, events = run(example, days=14)
    counts = [e for e in events if event_type_of(e) == "cycle_count"]
    assert counts
    assert min(e.occurred_us for e in counts) >= NOW_US - 6 * 86_400_000_000


def test_the_book_equals_the_reference_fold_of_the_events(example: Network) -> None:
    sim, events = run(example)
    folded = reference_fold(events)
    for node_id, sku in sim.book.touched:
        level = sim.book.level((node_id, sku))
        assert folded[sku][node_id] == (level.on_hand, level.reserved, level.inbound, level.held)
    assert any(sim.book.held(key) > 0 for key in sim.book.touched)  # holds open at the end


def test_every_order_commits_the_hold_its_checkout_placed(example: Network) -> None:
    sim, events = run(example, days=3)
    holds = {e.reservation_id: e for e in events if isinstance(e, HoldPlaced)}
    orders = [e for e in events if isinstance(e, OrderPlaced)]
    assert orders
    for order in orders:
        assert order.reservation_id is not None
        hold = holds[order.reservation_id]
        assert (hold.node_id, hold.sku, hold.qty) == (order.node_id, order.sku, order.qty)
        checkout = order.occurred_us - hold.occurred_us
        assert CHECKOUT_MIN_US - 1000 <= checkout <= CHECKOUT_MAX_US + 1000
        assert hold.expires_us == hold.occurred_us + HOLD_TTL_US
    assert len({o.reservation_id for o in orders}) == len(orders)
    assert sim.tally.holds_committed == len(orders)


def test_an_abandoned_hold_is_released_at_checkout_or_expires_at_its_expiry(
    example: Network,
) -> None:
    sim, events = run(example, days=3)
    holds = {e.reservation_id: e for e in events if isinstance(e, HoldPlaced)}
    committed = {e.reservation_id for e in events if isinstance(e, OrderPlaced)}
    ends = [e for e in events if isinstance(e, HoldReleased)]
    assert {e.reason for e in ends} == set(HoldReleaseReason)
    assert len({e.reservation_id for e in ends} | committed) == len(ends) + len(committed)
    for end in ends:
        hold = holds[end.reservation_id]
        assert (hold.node_id, hold.sku) == (end.node_id, end.sku)
        if end.reason is HoldReleaseReason.EXPIRED:
            assert hold.expires_us <= end.occurred_us < hold.expires_us + 1000
        else:
            assert end.occurred_us - hold.occurred_us <= CHECKOUT_MAX_US + 1000
    tally = sim.tally
    assert tally.holds_released == sum(e.reason == "released" for e in ends)
    assert tally.holds_expired == sum(e.reason == "expired" for e in ends)
    still_open = len(holds) - len(ends) - len(committed)
    assert tally.holds_placed == len(holds)
    assert 0 <= still_open < 50  # holds whose checkout falls after the last day


def test_the_open_loop_stamps_real_time_never_in_the_future(small: Network) -> None:
    import itertools
    import time

    sim = Simulator(small, SimConfig(seed=1, tag="o"), WallClock())
    events = list(itertools.islice(open_loop_events(sim), 500))
    now = time.time_ns() // 1000
    assert all(e.occurred_us <= now for e in events)
    assert [e.occurred_us for e in events] == sorted(e.occurred_us for e in events)
