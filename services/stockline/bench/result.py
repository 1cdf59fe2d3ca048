"""The benchmark's figures: what `bench.json` holds and the report printed from them."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from stockline.bench import redis_stats
from stockline.bench.resources import Usage

_SERIES = ("latencies_ms",)  # plotted, too long for the JSON


@dataclass
class BenchResult:
    events: int
    skus: int
    nodes: int
    partitions: int
    # rates over the same topics, one after the other
    applied_per_s: float = 0.0
    naive_per_s: float = 0.0
    ratio_to_naive: float = 0.0
    bare_consumer_per_s: float = 0.0
    ratio_to_bare: float = 0.0
    # event -> ATP at half the applied rate, after a warm-up at that rate
    latency_rate_per_s: float = 0.0
    latency_warmup_s: float = 0.0
    latency_window_s: float = 0.0
    latency_p50_ms: float = 0.0
    latency_p99_ms: float = 0.0
    latency_samples: int = 0
    # CPU per event applied while the worker drained the backlog
    window_events: int = 0
    worker_processes: int = 0
    worker_cpu_us_per_event: float = 0.0
    redis_cpu_us_per_event: float = 0.0
    redis_fork_cpu_us_per_event: float = 0.0
    broker_cpu_us_per_event: float | None = None
    naive_cpu_us_per_event: float = 0.0
    redis_commands_per_event: float = 0.0
    redis_commands_top: dict[str, float] = field(default_factory=dict)
    redis_script_calls_per_event: float = 0.0
    redis_aof_bytes_per_event: float | None = None
    redis_primaries: dict[str, dict[str, float]] = field(default_factory=dict)
    """On a Cluster, per primary (`host:port`): Redis CPU µs and commands per event."""
    redis_primary_imbalance: float | None = None
    """How far the busiest or idlest primary's commands are from the mean (0.2: 20%)."""
    redis_round_trips_per_batch: float = 0.0
    mean_batch: float = 0.0
    worker_rss_mib: float = 0.0
    worker_peak_rss_mib: float = 0.0
    # what could stall the tail: Redis forks and the worker's full garbage collections
    redis_aof_config: str = ""
    redis_aof_rewrites: int = 0
    redis_forks: int = 0
    redis_delayed_fsyncs: int = 0
    latency_window_aof_rewrites: int = 0
    latency_window_forks: int = 0
    worker_full_gcs: int = 0
    worker_full_gc_max_ms: float = 0.0
    latency_window_full_gcs: int = 0
    latency_window_full_gc_max_ms: float = 0.0
    progress: list[tuple[float, float]] = field(default_factory=list)
    naive_progress: list[tuple[float, float]] = field(default_factory=list)
    bare_progress: list[tuple[float, float]] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list, repr=False)

    def record_backlog(self, used: Usage, processes: int) -> None:
        """The backlog window: rate and cost per event of the worker, Redis and broker."""
        self.applied_per_s = used.per_s
        self.window_events = int(used.events)
        self.worker_processes = processes
        self.worker_cpu_us_per_event = used.worker_cpu_us
        self.redis_cpu_us_per_event = used.redis_cpu_us
        self.redis_fork_cpu_us_per_event = used.redis_fork_cpu_us
        self.broker_cpu_us_per_event = used.broker_cpu_us
        self.redis_commands_per_event = used.commands_per_event()
        self.redis_commands_top = used.top_commands()
        self.redis_script_calls_per_event = used.script_calls_per_event()
        self.redis_aof_bytes_per_event = used.aof_bytes_per_event()
        self.redis_primaries = used.per_primary()
        self.redis_primary_imbalance = redis_stats.imbalance(
            {name: node["commands_per_event"] for name, node in self.redis_primaries.items()}
        )

    def record_baselines(self, naive_per_s: float, bare_per_s: float) -> None:
        self.naive_per_s, self.bare_consumer_per_s = naive_per_s, bare_per_s
        self.ratio_to_naive = self.applied_per_s / naive_per_s if naive_per_s else 0.0
        self.ratio_to_bare = self.applied_per_s / bare_per_s if bare_per_s else 0.0

    def record_gc(self, pauses: list[tuple[int, int]], window_us: tuple[int, int]) -> None:
        """Full collections of the run, and of the latency window [from, to) in epoch µs."""
        inside = [p for at, p in pauses if window_us[0] <= at < window_us[1]]
        self.worker_full_gcs = len(pauses)
        self.worker_full_gc_max_ms = max((p for _, p in pauses), default=0) / 1000
        self.latency_window_full_gcs = len(inside)
        self.latency_window_full_gc_max_ms = max(inside, default=0) / 1000

    def summary(self) -> dict[str, object]:
        return {k: v for k, v in asdict(self).items() if k not in _SERIES}


def write_json(result: BenchResult, path: Path) -> None:
    """One field a line, each value (the progress series too) on its line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = (f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in result.summary().items())
    path.write_text("{\n" + ",\n".join(fields) + "\n}\n")


def report(r: BenchResult) -> str:
    width = max(len(name) for name, _ in _rows(r))
    return "\n".join(f"{name:<{width}}  {value}" for name, value in _rows(r))


def _rows(r: BenchResult) -> list[tuple[str, str]]:
    broker = "n/a" if r.broker_cpu_us_per_event is None else f"{r.broker_cpu_us_per_event:,.1f}"
    aof = "n/a (rewritten meanwhile)"
    if r.redis_aof_bytes_per_event is not None:
        aof = f"{r.redis_aof_bytes_per_event:,.0f} bytes (backlog window)"
    top = ", ".join(f"{name} {n:.2f}" for name, n in r.redis_commands_top.items())
    return [
        (
            "events",
            f"{r.events:,} over {r.skus:,} SKUs x {r.nodes:,} nodes, {r.partitions} partitions",
        ),
        ("applied_per_s (one worker)", f"{r.applied_per_s:,.0f} events/s"),
        ("naive_per_s (HINCRBY + publish)", f"{r.naive_per_s:,.0f} events/s"),
        ("  ratio_to_naive", f"{r.ratio_to_naive:.3f}"),
        ("bare_consumer_per_s", f"{r.bare_consumer_per_s:,.0f} events/s"),
        ("  ratio_to_bare", f"{r.ratio_to_bare:.3f}"),
        (
            "event -> ATP at half peak",
            f"{r.latency_rate_per_s:,.0f} events/s offered, {r.latency_warmup_s:g} s warm-up, "
            f"{r.latency_window_s:g} s measured",
        ),
        ("  latency_p50_ms / p99_ms", f"{r.latency_p50_ms:.1f} / {r.latency_p99_ms:.1f} ms"),
        ("  samples", f"{r.latency_samples:,}"),
        (
            "CPU µs per event (backlog)",
            f"worker {r.worker_cpu_us_per_event:,.1f} ({r.worker_processes} process(es)), "
            f"Redis {r.redis_cpu_us_per_event:,.1f} (+{r.redis_fork_cpu_us_per_event:,.1f} "
            f"in forks), broker {broker}; over {r.window_events:,} events",
        ),
        ("  naive consumer", f"{r.naive_cpu_us_per_event:,.1f} (its process only)"),
        ("redis_commands_per_event", f"{r.redis_commands_per_event:.2f}: {top}"),
        ("  of which script calls", f"{r.redis_script_calls_per_event:.2f} per event"),
        *_primary_rows(r),
        ("mean batch", f"{r.mean_batch:,.0f} events"),
        ("Redis round trips per batch", f"{r.redis_round_trips_per_batch:.2f}"),
        (
            "worker_rss_mib (now / peak)",
            f"{r.worker_rss_mib:.0f} / {r.worker_peak_rss_mib:.0f} MiB",
        ),
        ("Redis persistence", r.redis_aof_config),
        ("  AOF growth per event", aof),
        (
            "  during the run",
            f"{r.redis_aof_rewrites} AOF rewrites, {r.redis_forks} forks, "
            f"{r.redis_delayed_fsyncs} delayed fsyncs",
        ),
        (
            "  in the latency window",
            f"{r.latency_window_aof_rewrites} AOF rewrites, {r.latency_window_forks} forks",
        ),
        (
            "worker full GCs",
            f"{r.worker_full_gcs} in the run (longest {r.worker_full_gc_max_ms:.0f} ms), "
            f"{r.latency_window_full_gcs} in the latency window "
            f"(longest {r.latency_window_full_gc_max_ms:.0f} ms)",
        ),
    ]


def _primary_rows(r: BenchResult) -> list[tuple[str, str]]:
    """On a Cluster: each primary's share, and how even the shares are."""
    if not r.redis_primaries:
        return []
    rows = [
        (f"  primary {name}", f"{n['commands_per_event']:.2f} commands, "
         f"{n['cpu_us_per_event']:,.1f} µs CPU per event")
        for name, n in r.redis_primaries.items()
    ]  # fmt: skip
    spread = r.redis_primary_imbalance
    balance = "n/a" if spread is None else f"within {100 * spread:.0f}% of the mean"
    return [*rows, ("  commands per primary", balance)]
