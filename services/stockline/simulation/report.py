"""The KPI report: a text table, kpi.json and a PNG (matplotlib, Agg backend: no display).

One run or several side by side: every function takes `{label: Kpis}`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Final

from stockline.simulation.kpi import Kpis

if TYPE_CHECKING:
    from matplotlib.axes import Axes

_HOLDS: Final = ("holds_placed", "holds_committed", "holds_released", "holds_expired")

_ROWS: tuple[tuple[str, str | tuple[str, ...], str], ...] = (
    ("warm-up days (left out)", "warmup_days", "{}"),
    ("fill rate (steady state)", "fill_rate", "{:.3f}"),
    ("worst steady day", "worst_steady_day", "{:.3f}"),
    ("fill rate (whole run)", "run_fill_rate", "{:.3f}"),
    ("refused requests", "refused_rate", "{:.3f}"),
    ("stockout (node·sku·days)", "stockout_rate", "{:.3f}"),
    ("avg promise distance", "avg_promise_distance", "{:.2f}"),
    ("avg lane days", "avg_lane_days", "{:.2f}"),
    ("inventory turns", "turns", "{:.3f}"),
    ("ASNs placed", "asns", "{}"),
    ("transfers shipped", "transfers", "{}"),
    ("signals not acted on", "signals_ignored", "{}"),
    ("lost sales published", "lost_sales", "{}"),
    ("holds plc/cmt/rel/exp", _HOLDS, "{}"),  # placed / committed / released / expired
    ("divergence (units)", "divergence_units", "{}"),
)


def table(runs: Mapping[str, Kpis]) -> str:
    """A plain-text table, one column per run, one row per KPI (per node kind too)."""
    labels = list(runs)
    rows = [("KPI", *labels)]
    for title, name, fmt in _ROWS:
        rows.append((title, *(_cell(runs[r], name, fmt) for r in labels)))
    for kind in sorted({k for run in runs.values() for k in run.carrying_units}):
        rows.append(
            (
                f"carrying units {kind}",
                *(f"{runs[r].carrying_units.get(kind, 0):.0f}" for r in labels),
            )
        )
        rows.append(
            (f"turns {kind}", *(f"{runs[r].turns_by_kind.get(kind, 0):.3f}" for r in labels))
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def _cell(kpis: Kpis, name: str | tuple[str, ...], fmt: str) -> str:
    """One KPI, or several joined by "/" (a tuple of names)."""
    names = (name,) if isinstance(name, str) else name
    return "/".join(_fmt(fmt, getattr(kpis, n)) for n in names)


def _fmt(fmt: str, value: object) -> str:
    return "n/a" if value is None else fmt.format(value)


def write_json(path: Path, runs: Mapping[str, Kpis]) -> None:
    path.write_text(json.dumps({label: asdict(k) for label, k in runs.items()}, indent=2) + "\n")


def write_png(path: Path, runs: Mapping[str, Kpis]) -> None:
    """Four panels: service (fill, refused, stockout; steady state), carrying units per node
    kind, turns per node kind, and the daily fill rate with the warm-up shaded."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(13, 9), constrained_layout=True)
    fig.suptitle("stockline simulate: " + " vs ".join(runs), fontsize=14)
    service = {"fill rate": "fill_rate", "refused": "refused_rate", "stockout": "stockout_rate"}
    values = {r: [getattr(k, m) for m in service.values()] for r, k in runs.items()}
    _grouped(axes[0][0], list(service), values, "service (share)", "{:.3f}")
    axes[0][0].set_ylim(0, 1.1)
    kinds = sorted({k for run in runs.values() for k in run.carrying_units})
    carrying = {r: [k.carrying_units.get(kind, 0.0) for kind in kinds] for r, k in runs.items()}
    _grouped(axes[0][1], kinds, carrying, "average on_hand (units) per node kind", "{:,.0f}")
    turns = {r: [k.turns_by_kind.get(kind, 0.0) for kind in kinds] for r, k in runs.items()}
    _grouped(axes[1][0], kinds, turns, "inventory turns over the run per node kind", "{:.3f}")
    _daily(axes[1][1], runs)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _daily(ax: Axes, runs: Mapping[str, Kpis]) -> None:
    from matplotlib.ticker import MaxNLocator

    warmup = max((k.warmup_days for k in runs.values()), default=0)
    if warmup:
        ax.axvspan(-0.5, warmup - 0.5, color="grey", alpha=0.2, label="warm-up (left out)")
    for label, kpis in runs.items():
        ax.plot(range(len(kpis.daily_fill)), kpis.daily_fill, marker="o", label=label)
    ax.set(title="daily fill rate", xlabel="simulated day", ylabel="fill rate")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend()
    ax.grid(alpha=0.3)


def _grouped(
    ax: Axes, groups: list[str], values: dict[str, list[float]], title: str, fmt: str
) -> None:
    width = 0.8 / max(1, len(values))
    for i, (label, heights) in enumerate(values.items()):
        xs = [g + i * width for g in range(len(groups))]
        bars = ax.bar(xs, heights, width, label=label)
        ax.bar_label(bars, fmt=fmt, fontsize=8)
    ax.set_xticks([g + width * (len(values) - 1) / 2 for g in range(len(groups))], groups)
    ax.set_title(title)
    ax.legend()
    ax.grid(axis="y", alpha=0.3)


def write_report(directory: Path, runs: Mapping[str, Kpis]) -> tuple[Path, Path]:
    """kpi.json and kpi.png in `directory` (created); returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    json_path, png_path = directory / "kpi.json", directory / "kpi.png"
    write_json(json_path, runs)
    write_png(png_path, runs)
    return json_path, png_path
