"""The report and bench.json carry every figure, under the names users compare."""

from __future__ import annotations

import json
from pathlib import Path

from stockline.bench.gc_probe import parse_pauses
from stockline.bench.result import BenchResult, report, write_json

FIGURES = (
    "applied_per_s",
    "naive_per_s",
    "ratio_to_naive",
    "bare_consumer_per_s",
    "latency_p50_ms",
    "latency_p99_ms",
    "worker_cpu_us_per_event",
    "redis_cpu_us_per_event",
    "broker_cpu_us_per_event",
    "redis_commands_per_event",
    "worker_rss_mib",
)


def _result() -> BenchResult:
    r = BenchResult(events=1_000_000, skus=10_000, nodes=20, partitions=6)
    r.applied_per_s, r.latency_rate_per_s = 8_245.0, 4_122.5
    r.record_baselines(naive_per_s=27_316.0, bare_per_s=336_171.0)
    r.latency_warmup_s, r.latency_window_s = 10.0, 20.0
    r.latency_p50_ms, r.latency_p99_ms, r.latency_samples = 60.2, 122.4, 82_450
    r.window_events, r.worker_processes = 998_000, 1
    r.worker_cpu_us_per_event, r.redis_cpu_us_per_event = 121.5, 62.0
    r.redis_fork_cpu_us_per_event, r.broker_cpu_us_per_event = 0.0, 19.8
    r.naive_cpu_us_per_event = 30.1
    r.redis_commands_per_event = 13.76
    r.redis_commands_top = {"hset": 2.46, "evalsha": 0.79}
    r.redis_script_calls_per_event = 0.79
    r.redis_round_trips_per_batch, r.mean_batch = 2.0, 844.0
    r.worker_rss_mib, r.worker_peak_rss_mib = 190.0, 235.0
    r.redis_aof_config = "appendonly yes, appendfsync everysec"
    r.redis_aof_bytes_per_event = 812.4
    r.redis_aof_rewrites = r.redis_forks = 1
    r.record_gc([(5_000_000, 12_000), (9_000_000, 180_000)], window_us=(8_000_000, 9_500_000))
    r.progress = [(0.0, 2_000.0), (0.25, 4_000.0)]
    r.latencies_ms = [60.0, 61.0]
    return r


def test_the_report_prints_every_figure() -> None:
    text = report(_result())
    for figure in ("applied_per_s", "naive_per_s", "ratio_to_naive", "bare_consumer_per_s"):
        assert figure in text
    for shown in (
        "8,245 events/s",
        "27,316 events/s",
        "0.302",  # 8,245 / 27,316
        "336,171 events/s",
        "4,122 events/s offered, 10 s warm-up, 20 s measured",
        "60.2 / 122.4 ms",
        "worker 121.5 (1 process(es)), Redis 62.0 (+0.0 in forks), broker 19.8",
        "over 998,000 events",
        "13.76: hset 2.46, evalsha 0.79",
        "0.79 per event",
        "190 / 235 MiB",
        "appendonly yes, appendfsync everysec",
        "812 bytes (backlog window)",
        "1 AOF rewrites, 1 forks, 0 delayed fsyncs",
        "2 in the run (longest 180 ms), 1 in the latency window (longest 180 ms)",
    ):
        assert shown in text, shown


def test_a_broker_not_on_this_machine_reads_n_a() -> None:
    r = _result()
    r.broker_cpu_us_per_event = None
    r.redis_aof_bytes_per_event = None
    assert "broker n/a" in report(r)
    assert "n/a (rewritten meanwhile)" in report(r)


def test_bench_json_has_every_figure_and_no_latency_list(tmp_path: Path) -> None:
    write_json(_result(), tmp_path / "bench.json")
    data = json.loads((tmp_path / "bench.json").read_text())
    assert set(FIGURES) <= set(data)
    assert data["ratio_to_naive"] == 8_245.0 / 27_316.0
    assert data["latency_window_full_gcs"] == 1
    assert data["progress"] == [[0.0, 2000.0], [0.25, 4000.0]]
    assert "latencies_ms" not in data


def test_the_gc_log_skips_a_torn_last_line() -> None:
    assert parse_pauses(["1700000000000000 12000", "1700000001000000 1", "17000"]) == [
        (1_700_000_000_000_000, 12_000),
        (1_700_000_001_000_000, 1),
    ]
