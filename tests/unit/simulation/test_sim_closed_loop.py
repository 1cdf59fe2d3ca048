"""How signals become supply: a reorder an ASN now and its receipt after the supplier lead
time; a rebalance a transfer shipped now and received after the lane's transit days."""

from __future__ import annotations

from tests.unit.simulation.sim_world import clock

from stockline.contracts.signals import RebalanceRecord, ReorderRecord, SignalRecord
from stockline.domain.events import (
    InboundExpected,
    InventoryEvent,
    Receipt,
    TransferReceived,
    TransferShipped,
)
from stockline.domain.network import Network
from stockline.domain.signals import REBALANCE_REASON, REORDER_REASON
from stockline.simulation.closed_loop import REBALANCE, REORDER, SAME_DAY_US
from stockline.simulation.generator import SimConfig, Simulator
from stockline.simulation.model import DAY_US

TV = "TV-001-t"  # rank 1: class A by its prefix, supplier lead time 3 days


def simulator(network: Network) -> Simulator:
    sim = Simulator(network, SimConfig(seed=5, tag="t", n_skus=5, daily_requests=50), clock())
    list(sim.opening())
    return sim


AS_OF = "2026-01-05T00:00:00Z"


def reorder(signal_id: str = "r-1", qty: int = 30) -> tuple[str, SignalRecord]:
    return REORDER, ReorderRecord(
        signal_id=signal_id, node_id="STORE-1", sku=TV, position=4, reorder_point=10,
        order_up_to=40, suggested_qty=qty, reason=REORDER_REASON, as_of=AS_OF,
    )  # fmt: skip


def rebalance(to_node: str, qty: int = 12) -> tuple[str, SignalRecord]:
    return REBALANCE, RebalanceRecord(
        signal_id=f"b-{to_node}", sku=TV, from_node="DC-1", to_node=to_node, qty=qty,
        lane_days=2, lane_cost=0.4, reason=REBALANCE_REASON, as_of=AS_OF,
    )  # fmt: skip


def days(sim: Simulator, first: list[tuple[str, SignalRecord]], n: int) -> list[InventoryEvent]:
    events = list(sim.day(0, first))
    for day in range(1, n):
        events += sim.day(day)
    return events


def sim_us(sim: Simulator, event: InventoryEvent) -> int:
    return event.occurred_us - clock().start_us


def apart(later: InventoryEvent, earlier: InventoryEvent, sim: Simulator) -> int:
    """Simulated time between two events, to the second (emission keeps times strictly
    increasing by nudging an event a few microseconds)."""
    return round((sim_us(sim, later) - sim_us(sim, earlier)) / 1_000_000) * 1_000_000


def test_a_reorder_places_an_asn_now_and_receives_it_after_the_lead_time(small: Network) -> None:
    sim = simulator(small)
    events = days(sim, [reorder()], 5)
    asn = next(e for e in events if isinstance(e, InboundExpected))
    receipt = next(e for e in events if isinstance(e, Receipt) and e.asn_id == asn.asn_id)
    assert (asn.node_id, asn.sku, asn.qty) == ("STORE-1", TV, 30)
    assert sim_us(sim, asn) // DAY_US == 0
    assert receipt.qty == 30
    assert apart(receipt, asn, sim) == 3 * DAY_US  # policy A: 3 days
    assert sim.tally.asns == 1


def test_an_asn_is_inbound_until_its_receipt(small: Network) -> None:
    sim, without = simulator(small), simulator(small)
    days(sim, [reorder()], 2)
    days(without, [], 2)  # the same run without the reorder: the opening pipeline alone
    key = ("STORE-1", TV)
    assert sim.book.inbound(key) == without.book.inbound(key) + 30


def test_a_rebalance_ships_from_the_donor_and_arrives_after_the_lane_days(small: Network) -> None:
    sim = simulator(small)
    events = days(sim, [rebalance("STORE-1")], 4)
    shipped = next(e for e in events if isinstance(e, TransferShipped))
    received = next(e for e in events if isinstance(e, TransferReceived))
    assert (shipped.node_id, shipped.to_node, shipped.qty) == ("DC-1", "STORE-1", 12)
    assert (received.node_id, received.from_node, received.transfer_id) == (
        "STORE-1", "DC-1", shipped.transfer_id,
    )  # fmt: skip
    assert apart(received, shipped, sim) == 2 * DAY_US
    assert sim.tally.counts.transfers_received == 1
    assert sim.tally.counts.lane_days_sum == 2


def test_a_same_day_lane_delivers_hours_later(small: Network) -> None:
    sim = simulator(small)
    events = days(sim, [rebalance("STORE-2")], 1)
    shipped = next(e for e in events if isinstance(e, TransferShipped))
    received = next(e for e in events if isinstance(e, TransferReceived))
    assert apart(received, shipped, sim) == SAME_DAY_US


def test_a_donor_never_ships_more_than_its_free_stock(small: Network) -> None:
    sim = Simulator(small, SimConfig(seed=5, tag="t", n_skus=5, daily_requests=50), clock())
    opening = list(sim.opening())
    # DC-1's shelf, as the opening events put it there; nothing is ordered from it before
    # the first morning's reactions
    shelf = sum(
        e.qty for e in opening if isinstance(e, Receipt) and (e.node_id, e.sku) == ("DC-1", TV)
    )
    assert shelf > 0
    events = days(sim, [rebalance("STORE-1", qty=shelf + 50)], 1)
    shipped = next(e for e in events if isinstance(e, TransferShipped))
    assert shipped.qty == shelf


def test_a_repeated_signal_id_is_acted_on_once(small: Network) -> None:
    sim = simulator(small)
    events = days(sim, [reorder("same"), reorder("same")], 1)
    assert sum(isinstance(e, InboundExpected) for e in events) == 1
    assert sim.tally.signals_ignored == 1
