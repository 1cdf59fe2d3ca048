"""Redis CPU, commands and forks over a window, from INFO as redis-py parses it."""

from __future__ import annotations

from typing import Any

import pytest

from stockline.bench.redis_stats import combined, describe_aof, imbalance, sample, window
from stockline.bench.resources import Sample, broker_port, usage


def _info(cpu: float, forks: int, aof: int = 0, **calls: int) -> dict[str, Any]:
    info: dict[str, Any] = {
        "used_cpu_sys": cpu / 4,
        "used_cpu_user": 3 * cpu / 4,
        "used_cpu_sys_children": forks * 0.1,
        "used_cpu_user_children": forks * 0.1,
        "aof_rewrites": forks,
        "total_forks": forks,
        "aof_delayed_fsync": 0,
        "aof_current_size": aof,
        "redis_version": "7.0.15",
    }
    for name, n in calls.items():
        info[f"cmdstat_{name}"] = {"calls": n, "usec": 10 * n, "usec_per_call": 10.0}
    return info


def test_a_sample_reads_cpu_forks_and_the_calls_of_every_command() -> None:
    s = sample(_info(2.0, 1, evalsha=10, hset=40, **{"client|setname": 2}))
    assert s.cpu_s == pytest.approx(2.0)
    assert s.fork_cpu_s == pytest.approx(0.2)
    assert (s.aof_rewrites, s.forks) == (1, 1)
    assert s.calls == {"evalsha": 10, "hset": 40, "client|setname": 2}


def test_a_window_counts_only_what_happened_in_it() -> None:
    before = sample(_info(2.0, 1, evalsha=10, hset=40, get=5))
    after = sample(_info(3.5, 2, evalsha=110, hset=440, get=5, hincrby=300))
    w = window(before, after)
    assert w.cpu_s == pytest.approx(1.5)
    assert (w.forks, w.aof_rewrites) == (1, 1)
    assert w.calls == {"evalsha": 100, "hset": 400, "hincrby": 300}  # get did not move
    assert w.total_calls == 800  # commands inside the scripts count as well as the EVALSHA
    assert w.script_calls == 100
    assert w.top_calls(2) == [("hset", 400), ("hincrby", 300)]
    assert w.aof_bytes is None  # a rewrite in the window reset the file's size


def test_aof_growth_is_known_only_without_a_rewrite() -> None:
    w = window(sample(_info(1.0, 3, aof=1_000)), sample(_info(1.0, 3, aof=801_000)))
    assert w.aof_bytes == 800_000


def test_usage_divides_every_cost_by_the_events_of_the_window() -> None:
    before = Sample(10.0, 1_000, 5.0, 2.0, sample(_info(1.0, 0, 10**6, evalsha=0, hset=0)))
    after = Sample(
        12.0, 21_000, 7.0, 2.5, sample(_info(2.0, 0, 2 * 10**6, evalsha=20_000, hset=60_000))
    )
    used = usage(before, after)
    assert used.per_s == 10_000
    assert used.worker_cpu_us == pytest.approx(100.0)  # 2 s of CPU over 20,000 events
    assert used.redis_cpu_us == pytest.approx(50.0)
    assert used.broker_cpu_us == pytest.approx(25.0)
    assert used.commands_per_event() == 4.0
    assert used.script_calls_per_event() == 1.0
    assert used.top_commands() == {"hset": 3.0, "evalsha": 1.0}
    assert used.aof_bytes_per_event() == 50.0


def test_a_broker_elsewhere_has_no_cpu_figure() -> None:
    before = Sample(0.0, 0, 0.0, None, sample(_info(0.0, 0)))
    after = Sample(1.0, 10, 1.0, None, sample(_info(0.0, 0)))
    assert usage(before, after).broker_cpu_us is None
    assert broker_port("127.0.0.1:9092,127.0.0.1:9093") == 9092
    assert broker_port("localhost:29092") == 29092
    assert broker_port("kafka-0.kafka.svc:9092") is None


def test_the_persistence_line_names_every_setting() -> None:
    config = {
        "appendonly": "yes",
        "appendfsync": "everysec",
        "aof-use-rdb-preamble": "yes",
        "auto-aof-rewrite-percentage": "100",
        "auto-aof-rewrite-min-size": "1073741824",
        "no-appendfsync-on-rewrite": "no",
        "save": "",
    }
    assert describe_aof(config) == (
        "appendonly yes, appendfsync everysec, aof-use-rdb-preamble yes, "
        "auto-aof-rewrite-percentage 100, auto-aof-rewrite-min-size 1073741824, "
        'no-appendfsync-on-rewrite no, save ""'
    )
    assert describe_aof({}) == "unknown (CONFIG GET refused)"


def test_a_clusters_primaries_are_summed_and_kept_apart() -> None:
    before = combined({"a:1": sample(_info(1.0, 0, evalsha=10)), "b:2": sample(_info(2.0, 0))})
    after = combined(
        {"a:1": sample(_info(1.5, 0, evalsha=110)), "b:2": sample(_info(2.9, 0, evalsha=80))}
    )
    w = window(before, after)
    assert w.cpu_s == pytest.approx(1.4)  # 0.5 + 0.9
    assert w.calls == {"evalsha": 180}
    assert {name: node.total_calls for name, node in w.by_node.items()} == {"a:1": 100, "b:2": 80}
    # 100 and 80 around a mean of 90: each within 11% of it
    assert imbalance({n: node.total_calls for n, node in w.by_node.items()}) == pytest.approx(
        10 / 90
    )


def test_imbalance_needs_two_servers_with_work() -> None:
    assert imbalance({"a:1": 5.0}) is None
    assert imbalance({"a:1": 0.0, "b:2": 0.0}) is None
    assert imbalance({"a:1": 3.0, "b:2": 1.0}) == pytest.approx(0.5)
