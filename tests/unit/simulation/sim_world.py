"""Networks and a fixed clock for the simulator's unit tests."""

from __future__ import annotations

from stockline.simulation.model import DAY_US, WindowClock

NOW_US = 1_795_000_000_000_000  # 2026-11-18T11:06:40Z, a fixed "real now"

SMALL = """
nodes:
  - {id: DC-1, kind: dc, region: east, channels: [web]}
  - {id: STORE-1, kind: store, region: east, channels: [store-pickup, web]}
  - {id: STORE-2, kind: store, region: east, channels: [store-pickup]}
lanes:
  - {from: DC-1, to: STORE-1, transit_days: 2, cost_per_unit: 0.40}
  - {from: DC-1, to: STORE-2, transit_days: 0, cost_per_unit: 0.20}
classes:
  default: C
  prefixes: {"TV-": A}
policies:
  defaults:
    A: {kind: static, reorder_point: 10, order_up_to: 40, supplier_lead_time_days: 3}
    B: {kind: static, reorder_point: 10, order_up_to: 40, supplier_lead_time_days: 3}
    C: {kind: static, reorder_point: 5, order_up_to: 20, supplier_lead_time_days: 4}
"""


def clock(days: int = 14) -> WindowClock:
    """Day 0 at the UTC midnight `days` days before NOW_US's day."""
    return WindowClock(start_us=(NOW_US // DAY_US - days) * DAY_US, now_us=NOW_US)
