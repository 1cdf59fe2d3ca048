"""The generator: deterministic by seed, Zipf-skewed, every event type, events stockline
accepts, and a book that equals the ledger's reference fold."""

from __future__ import annotations

from collections import Counter

from tests.unit.domain.reference import reference_fold
from tests.unit.simulation.sim_world import NOW_US, clock

from stockline.contracts.codec import Rejection, decode, encode
from stockline.domain.events import EVENT_TYPES, InventoryEvent, OrderPlaced, event_type_of
from stockline.domain.network import Network
from stockline.simulation.generator import SimConfig, Simulator
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
    # the simulated storefronts place no holds yet: nothing here publishes hold events
    holds = {"hold_placed", "hold_extended", "hold_released"}
    assert {event_type_of(e) for e in events} >= set(EVENT_TYPES) - rare - holds
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
        assert folded[sku][node_id] == (level.on_hand, level.reserved, level.inbound, 0)


def test_the_open_loop_stamps_real_time_never_in_the_future(small: Network) -> None:
    import itertools
    import time

    sim = Simulator(small, SimConfig(seed=1, tag="o"), WallClock())
    events = list(itertools.islice(open_loop_events(sim), 500))
    now = time.time_ns() // 1000
    assert all(e.occurred_us <= now for e in events)
    assert [e.occurred_us for e in events] == sorted(e.occurred_us for e in events)
