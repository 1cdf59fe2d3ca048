"""The KPI arithmetic with worked numbers, and the report it feeds."""

from __future__ import annotations

from pathlib import Path

import pytest

from stockline.simulation.kpi import Kpis, Tally, compute
from stockline.simulation.report import table, write_report


def two_days() -> Tally:
    tally = Tally()
    # day 1: 10 units asked in 3 requests; 8 promised (3 locally, 5 from the region's DC)
    tally.request(3, promised=True, distance=0)
    tally.request(5, promised=True, distance=1)
    tally.request(2, promised=False)
    tally.shipped_units["store"] += 3
    tally.shipped_units["dc"] += 5
    tally.close_day([0, 4, 6, 0], {"dc": 100, "store": 20})
    # day 2: 6 units asked, all promised from another region
    tally.request(6, promised=True, distance=2)
    tally.shipped_units["dc"] += 6
    tally.transfer_received(1)  # a 1-day and a 2-day lane
    tally.transfer_received(2)
    tally.close_day([5, 4, 6, 0], {"dc": 80, "store": 40})
    return tally


def test_fill_refusals_and_stockouts() -> None:
    kpis = compute(two_days(), days=2)
    assert kpis.fill_rate == pytest.approx(14 / 16)  # (8 + 6) promised of (10 + 6) asked
    assert kpis.refused_rate == pytest.approx(1 / 4)  # 1 of 4 requests
    assert kpis.stockout_rate == pytest.approx(3 / 8)  # zero ATP: 2 of 4, then 1 of 4
    assert kpis.daily_fill == [pytest.approx(0.8), 1.0]


def test_distance_lanes_turns_and_carrying_units() -> None:
    kpis = compute(two_days(), days=2)
    assert kpis.avg_promise_distance == pytest.approx((0 + 1 + 2) / 3)
    assert kpis.avg_lane_days == pytest.approx(1.5)
    assert kpis.carrying_units == {"dc": 90.0, "store": 30.0}  # (100+80)/2, (20+40)/2
    assert kpis.turns == pytest.approx(14 / 120)  # 14 shipped / 120 average on_hand
    assert kpis.turns_by_kind == {"dc": pytest.approx(11 / 90), "store": pytest.approx(3 / 30)}
    assert kpis.daily_on_hand == [120, 120]


def test_the_warm_up_is_left_out_of_the_headline_figures() -> None:
    tally = two_days()
    tally.warmup_days = 1  # as if the simulator had been told so before day 0
    tally.at_warmup = Tally().counts
    warm = Tally(warmup_days=1)
    for units, promised in ((10, False), (4, True)):  # day 0: nothing of 10; day 1: 4 of 4
        warm.request(units, promised)
        warm.close_day([0], {"store": 10 if promised else 30})
    kpis = compute(warm, days=2)
    assert (kpis.warmup_days, kpis.steady_fill_rate, kpis.fill_rate) == (1, 1.0, 1.0)
    assert kpis.run_fill_rate == pytest.approx(4 / 14)
    assert kpis.worst_steady_day == 1.0
    assert kpis.carrying_units == {"store": 10.0}  # day 1 alone
    assert kpis.weekly_fill_rate == [pytest.approx(4 / 14)]


def test_an_empty_run_reports_zeros_not_errors() -> None:
    kpis = compute(Tally(), days=0)
    assert (kpis.fill_rate, kpis.turns, kpis.avg_lane_days) == (0.0, 0.0, 0.0)


def test_the_report_tables_both_runs_and_writes_json_and_png(tmp_path: Path) -> None:
    held = two_days()
    held.holds_placed, held.holds_committed, held.holds_released, held.holds_expired = 9, 6, 1, 1
    runs: dict[str, Kpis] = {
        "static": compute(two_days(), days=2, divergence_units=0),
        "dynamic": compute(held, days=2),
    }
    text = table(runs)
    assert text.splitlines()[0].split() == ["KPI", "static", "dynamic"]
    rows = {line[:26].strip(): line[26:].split() for line in text.splitlines()[2:]}
    assert rows["fill rate (steady state)"] == ["0.875", "0.875"]
    assert rows["divergence (units)"] == ["0", "n/a"]
    assert rows["carrying units dc"] == ["90", "90"]
    assert rows["holds plc/cmt/rel/exp"] == ["0/0/0/0", "9/6/1/1"]  # 1 still open
    json_path, png_path = write_report(tmp_path / "out", runs)
    assert '"static"' in json_path.read_text()
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
