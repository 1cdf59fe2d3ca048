"""What Redis did over a window, from two `INFO all` answers (as redis-py parses them).

Every counter here is instance-wide: on a Redis other clients use too, their work counts.
Commands a Lua script runs through `redis.call` are counted in commandstats under their
own names as well as the EVALSHA that ran them, so the total counts both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_CMDSTAT = "cmdstat_"
SCRIPT_CALLS = frozenset({"evalsha", "eval", "evalsha_ro", "eval_ro", "fcall", "fcall_ro"})
AOF_CONFIG = (
    "appendonly",
    "appendfsync",
    "aof-use-rdb-preamble",
    "auto-aof-rewrite-percentage",
    "auto-aof-rewrite-min-size",
    "no-appendfsync-on-rewrite",
    "save",
)


@dataclass(frozen=True)
class RedisSample:
    cpu_s: float
    """used_cpu_user + used_cpu_sys: the server process, every thread."""
    fork_cpu_s: float
    """used_cpu_*_children: the forked children (AOF rewrites, RDB saves) it has reaped."""
    aof_rewrites: int
    forks: int
    delayed_fsyncs: int
    """aof_delayed_fsync: times a write waited because the previous fsync had not finished."""
    aof_bytes: int = 0
    """aof_current_size: what the AOF holds now (a rewrite shrinks it)."""
    calls: dict[str, int] = field(default_factory=dict)
    by_node: dict[str, RedisSample] = field(default_factory=dict)
    """On a Cluster, each primary's own sample (the fields above are their sums)."""


def combined(by_node: Mapping[str, RedisSample]) -> RedisSample:
    """The sum of several servers' samples (a Cluster's primaries), each kept by name."""
    calls: dict[str, int] = {}
    for node in by_node.values():
        for name, n in node.calls.items():
            calls[name] = calls.get(name, 0) + n
    nodes = list(by_node.values())
    return RedisSample(
        cpu_s=sum(n.cpu_s for n in nodes),
        fork_cpu_s=sum(n.fork_cpu_s for n in nodes),
        aof_rewrites=sum(n.aof_rewrites for n in nodes),
        forks=sum(n.forks for n in nodes),
        delayed_fsyncs=sum(n.delayed_fsyncs for n in nodes),
        aof_bytes=sum(n.aof_bytes for n in nodes),
        calls=calls,
        by_node=dict(by_node),
    )


def sample(info: Mapping[str, Any]) -> RedisSample:
    calls = {
        name.removeprefix(_CMDSTAT): int(stats["calls"])
        for name, stats in info.items()
        if name.startswith(_CMDSTAT) and isinstance(stats, Mapping)
    }
    return RedisSample(
        cpu_s=float(info["used_cpu_user"]) + float(info["used_cpu_sys"]),
        fork_cpu_s=float(info["used_cpu_user_children"]) + float(info["used_cpu_sys_children"]),
        aof_rewrites=int(info.get("aof_rewrites", 0)),
        forks=int(info.get("total_forks", 0)),
        delayed_fsyncs=int(info.get("aof_delayed_fsync", 0)),
        aof_bytes=int(info.get("aof_current_size", 0)),
        calls=calls,
    )


@dataclass(frozen=True)
class RedisWindow:
    """Differences between two samples."""

    cpu_s: float
    fork_cpu_s: float
    aof_rewrites: int
    forks: int
    delayed_fsyncs: int
    aof_bytes: int | None
    """What the AOF grew by; None when a rewrite in the window reset it."""
    calls: dict[str, int]
    by_node: dict[str, RedisWindow] = field(default_factory=dict)
    """On a Cluster, each primary's own window."""

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    @property
    def script_calls(self) -> int:
        """Calls that ran a script or function (each counts as one, its commands apart)."""
        return sum(n for name, n in self.calls.items() if name in SCRIPT_CALLS)

    def top_calls(self, n: int) -> list[tuple[str, int]]:
        """The `n` most called commands in the window, most first."""
        return sorted(self.calls.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def window(before: RedisSample, after: RedisSample) -> RedisWindow:
    calls = {
        name: n - before.calls.get(name, 0)
        for name, n in after.calls.items()
        if n - before.calls.get(name, 0) > 0
    }
    return RedisWindow(
        cpu_s=after.cpu_s - before.cpu_s,
        fork_cpu_s=after.fork_cpu_s - before.fork_cpu_s,
        aof_rewrites=after.aof_rewrites - before.aof_rewrites,
        forks=after.forks - before.forks,
        delayed_fsyncs=after.delayed_fsyncs - before.delayed_fsyncs,
        aof_bytes=after.aof_bytes - before.aof_bytes
        if after.aof_rewrites == before.aof_rewrites
        else None,
        calls=calls,
        by_node={
            name: window(before.by_node[name], node)
            for name, node in after.by_node.items()
            if name in before.by_node
        },
    )


def imbalance(counts: Mapping[str, float]) -> float | None:
    """How far the busiest or idlest server is from the mean, as a share of the mean
    (0.2: within 20%); None with fewer than two servers or no work."""
    if len(counts) < 2:
        return None
    mean = sum(counts.values()) / len(counts)
    if mean <= 0:
        return None
    return max(abs(n - mean) for n in counts.values()) / mean


def describe_aof(config: Mapping[str, str]) -> str:
    """One line of the persistence settings that decide when Redis forks or blocks."""
    if not config:
        return "unknown (CONFIG GET refused)"
    values = {name: config.get(name, "?") or '""' for name in AOF_CONFIG}
    return ", ".join(f"{name} {value}" for name, value in values.items())
