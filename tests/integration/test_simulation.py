"""A short closed-loop simulation against a real worker: the simulator acts on the worker's
signals, and its own stock book (holds included) ends equal to stockline's ledger (Redis)
and ATP topic.

DC-1, the only node with lanes out, buys in bulk: reorder point = order-up-to and an MOQ
of 40, so from the day after its first sale of a SKU it holds spare above its order-up-to
and every short node it has a fast lane to is offered a transfer. Rebalances then follow
from the policy, not from how the worker's batches happen to fall."""

from __future__ import annotations

from pathlib import Path

import pytest

from stockline.adapters.network_file import load_network
from stockline.adapters.redis.store import RedisLedgerStore
from stockline.simulation.generator import SimConfig
from stockline.simulation.model import build_catalogue
from stockline.simulation.runner import run_closed_loop
from tests.integration.conftest import spawn
from tests.integration.harness import WorkerProcess, World

pytestmark = [pytest.mark.kafka, pytest.mark.redis]

NETWORK = """
nodes:
  - {id: DC-1, kind: dc, region: east, channels: [web]}
  - {id: MFC-1, kind: mfc, region: east, channels: [web, store-pickup]}
  - {id: STORE-1, kind: store, region: east, channels: [store-pickup]}
  - {id: STORE-2, kind: store, region: west, channels: [store-pickup, web]}
  - {id: STORE-3, kind: store, region: west, channels: [store-pickup]}  # no lane in: reorders
lanes:
  - {from: DC-1, to: MFC-1, transit_days: 1, cost_per_unit: 0.30}
  - {from: DC-1, to: STORE-1, transit_days: 0, cost_per_unit: 0.20}
  - {from: DC-1, to: STORE-2, transit_days: 2, cost_per_unit: 0.60}
classes:
  default: C
  prefixes: {"TV-": A, "LAP-": B}
policies:
  defaults:
    A: {kind: static, reorder_point: 12, order_up_to: 30, supplier_lead_time_days: 2}
    B: {kind: static, reorder_point: 6, order_up_to: 15, supplier_lead_time_days: 2}
    C: {kind: static, reorder_point: 3, order_up_to: 8, supplier_lead_time_days: 3}
"""
BULK_DC = "{DC-1: {reorder_point: 40, order_up_to: 40, moq: 40}}"


def write_network(path: Path, config: SimConfig) -> None:
    """NETWORK, with DC-1's bulk policy for every SKU the simulation will name."""
    path.write_text(NETWORK)
    skus = build_catalogue(load_network(path), config.n_skus, config.zipf_exponent, config.tag)
    overrides = "".join(f"    {spec.sku}: {{nodes: {BULK_DC}}}\n" for spec in skus)
    path.write_text(f"{NETWORK}  overrides:\n{overrides}")


async def test_a_closed_loop_acts_on_signals_and_ends_in_sync_with_the_ledger(
    world: World, workers: list[WorkerProcess], ledger: RedisLedgerStore, tmp_path: Path
) -> None:
    config = SimConfig(seed=11, tag=world.run, n_skus=10, daily_requests=120)
    world.network_file = tmp_path / "network.yaml"
    write_network(world.network_file, config)
    await world.create_topics()
    spawn(workers, world, tmp_path)

    result = await run_closed_loop(world.settings, load_network(world.network_file), config, days=6)

    sim = result.simulator
    assert result.signals["reorder"] > 0
    assert result.signals["rebalance"] > 0
    assert sim.tally.asns > 0
    assert sim.tally.asns_received > 0  # a 2-3 day lead time lands within the 6 days
    assert sim.tally.transfers > 0
    assert sim.tally.counts.transfers_received > 0
    assert result.kpis.divergence_units == 0
    assert result.differing == []
    for spec in sim.demand.catalogue:
        snapshot = await ledger.snapshot(spec.sku)
        assert snapshot is not None
        for node_id, stock in snapshot.nodes.items():
            level = sim.book.level((node_id, spec.sku))
            assert (stock.on_hand, stock.reserved, stock.inbound, stock.held) == (
                level.on_hand, level.reserved, level.inbound, level.held,
            ), (node_id, spec.sku)  # fmt: skip
    assert sim.tally.holds_committed > 0
    assert sim.tally.holds_released + sim.tally.holds_expired > 0
