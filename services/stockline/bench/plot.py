"""The benchmark's picture: backlog progress over time, and the event-to-ATP latency CDF."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def plot(progress: list[tuple[float, float]], latencies_ms: list[float], path: Path) -> None:
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    if progress:
        seconds, done = zip(*progress, strict=True)
        left.plot(seconds, [d / 1000 for d in done], color="tab:blue")
    left.set(title="Backlog applied by one worker", xlabel="seconds", ylabel="thousand events")
    left.grid(alpha=0.3)
    if latencies_ms:
        values = sorted(latencies_ms)
        shares = [(i + 1) / len(values) for i in range(len(values))]
        right.plot(values, shares, color="tab:orange")
        for q, style in ((0.5, ":"), (0.99, "--")):
            cut = values[min(len(values) - 1, int(q * len(values)))]
            right.axvline(cut, color="grey", linestyle=style, label=f"p{int(q * 100)} {cut:.0f} ms")
        right.set_xscale("log")
        right.legend()
    right.set(
        title="Event to ATP snapshot at half peak", xlabel="ms (log)", ylabel="share of events"
    )
    right.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
