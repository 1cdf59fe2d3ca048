"""The benchmark's picture: the backlog over time for the worker and both baselines, and the
event-to-ATP latency at half peak as a histogram with its cumulative share."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from stockline.bench.result import BenchResult

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def plot(result: BenchResult, path: Path) -> None:
    import matplotlib  # the tools extra, so imported only here

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8))
    _progress(left, result)
    _latency(right, result)
    fig.suptitle(
        f"stockline bench: {result.events:,} events over {result.skus:,} SKUs x "
        f"{result.nodes:,} nodes",
        fontsize=11,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _progress(ax: Axes, r: BenchResult) -> None:
    series = (
        (r.progress, f"stockline worker {r.applied_per_s:,.0f}/s", "tab:blue"),
        (r.naive_progress, f"naive consumer {r.naive_per_s:,.0f}/s", "tab:green"),
        (r.bare_progress, f"bare consumer {r.bare_consumer_per_s:,.0f}/s", "tab:grey"),
    )
    for points, label, color in series:
        if points:
            seconds, done = zip(*points, strict=True)
            ax.plot(seconds, [d / 1000 for d in done], color=color, label=label)
    ax.set(title="Backlog consumed, each alone", xlabel="seconds", ylabel="thousand events")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)


def _latency(ax: Axes, r: BenchResult) -> None:
    ax.set(
        title=f"Event to ATP at {r.latency_rate_per_s:,.0f} events/s "
        f"({r.latency_samples:,} events after {r.latency_warmup_s:g} s warm-up)",
        xlabel="ms",
        ylabel="events",
    )
    if not r.latencies_ms:
        return
    values = sorted(r.latencies_ms)
    ax.hist(values, bins=60, color="tab:orange", alpha=0.7)
    share = ax.twinx()
    share.plot(values, [(i + 1) / len(values) for i in range(len(values))], color="tab:red")
    share.set(ylabel="share of events", ylim=(0, 1.02))
    for cut, style, name in ((r.latency_p50_ms, ":", "p50"), (r.latency_p99_ms, "--", "p99")):
        ax.axvline(cut, color="black", linestyle=style, label=f"{name} {cut:.0f} ms")
    ax.legend(loc="center right")
    ax.grid(alpha=0.3)
