"""`stockline bench` at a tiny size: it runs end to end on the real broker and Redis, prints
its report and writes every figure to bench.json. No figure is judged, only present."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.harness import World, free_port

pytestmark = [pytest.mark.kafka, pytest.mark.redis]

POSITIVE = (
    "applied_per_s",
    "naive_per_s",
    "ratio_to_naive",
    "bare_consumer_per_s",
    "latency_p50_ms",
    "latency_p99_ms",
    "latency_samples",
    "window_events",
    "worker_processes",
    "worker_cpu_us_per_event",
    "redis_cpu_us_per_event",
    "redis_commands_per_event",
    "redis_script_calls_per_event",  # the worker's script calls
    "worker_rss_mib",
    "worker_peak_rss_mib",
    "mean_batch",
)
PRESENT = (
    "broker_cpu_us_per_event",  # n/a (null) when the broker runs elsewhere
    "redis_fork_cpu_us_per_event",
    "redis_commands_top",
    "redis_aof_config",
    "redis_aof_rewrites",
    "redis_forks",
    "latency_window_forks",
    "worker_full_gcs",
    "latency_window_full_gcs",
)


def test_bench_reports_every_figure(world: World, tmp_path: Path) -> None:
    env = {**world.env(free_port()), "STOCKLINE_BATCH_MAX": "500"}  # many batches to time
    result = subprocess.run(
        [sys.executable, "-m", "stockline.cli", "bench", "--events", "20000", "--skus", "500",
         "--nodes", "5", "--warmup-seconds", "1", "--latency-seconds", "2", "--out", str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    figures = json.loads((tmp_path / "bench.json").read_text())
    assert [k for k in POSITIVE if not figures[k] > 0] == []
    assert set(PRESENT) <= set(figures)
    assert figures["redis_commands_top"]  # instance-wide: other clients' commands may lead
    assert (tmp_path / "bench.png").stat().st_size > 0
    for name in ("applied_per_s", "naive_per_s", "ratio_to_naive", "latency_p50_ms / p99_ms"):
        assert name in result.stdout
    assert "\r" not in result.stderr  # not a terminal: progress lines, no bars
    assert "worker applies: 20,000/20,000 events (100%)" in result.stderr
