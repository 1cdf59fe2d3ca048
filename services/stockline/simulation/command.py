"""`stockline simulate`: parse-free entry points the CLI calls with its parsed arguments.

Exit status: 0; 1 for a bad network file or an unreachable broker; 2 when a closed loop
ends with the simulator's book and stockline's node ATP records disagreeing (divergence > 0).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any, Final

import yaml

from stockline.adapters.network_file import NetworkFileError, load_network
from stockline.domain.network import Network
from stockline.settings import Settings
from stockline.simulation.generator import SimConfig
from stockline.simulation.kpi import Kpis, compute
from stockline.simulation.memory_loop import run_memory_loop
from stockline.simulation.report import table, write_report
from stockline.simulation.runner import ClosedLoopResult, run_closed_loop, run_open_loop
from stockline.simulation.sandbox import sandbox_worker

STEADY_DAYS: Final = 21
"""A default closed loop runs the longest supplier lead time plus these days."""


def default_days(network: Network) -> int:
    """The longest supplier lead time of any policy plus three weeks: long enough for the
    orders of the first reviews to arrive, and for three weeks of steady state after."""
    return longest_lead_time(network) + STEADY_DAYS


def default_warmup(network: Network, days: int) -> int:
    """Days left out of the headline KPIs: the longest lead time (the opening pipeline is
    replaced by what the reviews ordered), or half the run when the run is shorter than
    that plus a week."""
    lead = longest_lead_time(network)
    return lead if days >= lead + 7 else days // 2


def longest_lead_time(network: Network) -> int:
    policies = network.policies
    every = [*policies.defaults.values(), *policies.by_sku.values(),
             *policies.by_sku_node.values()]  # fmt: skip
    return max(p.supplier_lead_time_days for p in every)


async def simulate(settings: Settings, args: argparse.Namespace) -> int:
    """Run what the arguments ask for, print the KPI table and write the report."""
    if args.compare or args.closed_loop:
        base = _network(Path(args.network))
        args.days = args.days or default_days(base)
        warmup = args.warmup_days
        warmup = default_warmup(base, args.days) if warmup is None else warmup
    else:
        warmup = 0
    config = SimConfig(
        seed=args.seed,
        tag=args.tag or f"s{args.seed}-{uuid.uuid4().hex[:6]}",
        n_skus=args.skus,
        daily_requests=args.requests_per_day,
        warmup_days=warmup,
    )
    if args.compare:
        results = await _compare(settings, [Path(p) for p in args.compare], config, args)
    elif args.closed_loop:
        label = Path(args.network).stem
        results = {label: await _closed(settings, Path(args.network), config, args, label)}
    else:
        return await _open(settings, config, args)
    runs = {label: result.kpis for label, result in results.items()}
    _print(runs, args.report)
    return 2 if any(r.differing for r in results.values()) else 0


async def _open(settings: Settings, config: SimConfig, args: argparse.Namespace) -> int:
    network = _network(Path(args.network))
    seconds = 60.0 if args.events is None and args.seconds is None else args.seconds
    sim = await run_open_loop(
        settings, network, config, rate=args.rate, events=args.events, seconds=seconds
    )
    days = len(sim.tally.daily_fill)
    _print({"open loop": compute(sim.tally, days)}, args.report)
    return 0


async def _closed(
    settings: Settings, network_file: Path, config: SimConfig, args: argparse.Namespace, label: str
) -> ClosedLoopResult:
    network = _network(network_file)
    if getattr(args, "in_memory", False):
        return await _in_memory(settings, network, config, args, label)
    if args.use_running_worker:
        return await _loop(settings, network, config, args, label)
    log = Path(args.report or tempfile.gettempdir()) / f"worker-{label}-{config.tag}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    async with sandbox_worker(settings, _absolute(network_file), log) as sandbox:
        return await _loop(sandbox, network, config, args, label)


async def _loop(
    settings: Settings, network: Network, config: SimConfig, args: argparse.Namespace, label: str
) -> ClosedLoopResult:
    result = await run_closed_loop(
        settings, network, config, args.days, day_seconds=args.day_seconds, label=label
    )
    state = "in sync" if not result.differing else f"{len(result.differing)} (node, sku) differ"
    print(
        f"{label}: divergence {result.kpis.divergence_units} units ({state}); signals read "
        f"{result.signals['reorder']} reorder, {result.signals['rebalance']} rebalance",
        file=sys.stderr,
    )
    return result


async def _in_memory(
    settings: Settings, network: Network, config: SimConfig, args: argparse.Namespace, label: str
) -> ClosedLoopResult:
    from tqdm import tqdm  # the tools extra, so imported only here

    with tqdm(total=args.days, desc=label, unit="day", leave=False, file=sys.stderr) as bar:

        def on_day(day: int, fill: float) -> None:
            bar.set_postfix(fill=f"{fill:.3f}")
            bar.update()

        result = await run_memory_loop(
            network,
            config,
            args.days,
            alpha=settings.demand_alpha,
            horizon_days=settings.demand_horizon_days,
            on_day=on_day,
        )
    kpis = result.kpis
    print(
        f"{label}: steady fill {kpis.steady_fill_rate:.3f} (worst day {kpis.worst_steady_day:.3f}"
        f", after {kpis.warmup_days} warm-up days); divergence {kpis.divergence_units} units; "
        f"signals {result.signals['reorder']} reorder, {result.signals['rebalance']} rebalance",
        file=sys.stderr,
    )
    return ClosedLoopResult(kpis, result.signals, result.differing, result.simulator)


async def _compare(
    settings: Settings, files: list[Path], config: SimConfig, args: argparse.Namespace
) -> dict[str, ClosedLoopResult]:
    """One closed loop per policy file, in turn, each with its own sandbox worker; the same
    seed and tag, so both see the same customers."""
    labels = [f.stem if [g.stem for g in files].count(f.stem) == 1 else str(f) for f in files]
    out = Path(args.report or tempfile.mkdtemp(prefix="stockline-sim-"))
    paths = [network_file_for(f, Path(args.network), out) for f in files]
    return {
        label: await _closed(settings, path, config, args, label)
        for label, path in zip(labels, paths, strict=True)
    }


def network_file_for(policy: Path, base: Path, out_dir: Path) -> Path:
    """`policy` when it is a whole network file (it has `nodes`); else an overlay whose
    top-level sections (`policies`, `classes`) replace those of `base`, written to
    `out_dir/<stem>.network.yaml` for the worker to read."""
    overlay = _read_yaml(policy)
    if "nodes" in overlay:
        return policy
    merged = _read_yaml(base) | overlay
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{policy.stem}.network.yaml"
    path.write_text(yaml.safe_dump(merged, sort_keys=False))
    return path


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise SystemExit(f"stockline: cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise SystemExit(f"stockline: {path} is not a YAML mapping")
    return data


def _absolute(path: Path) -> Path:
    return path if path.is_absolute() else Path.cwd() / path


def _network(path: Path) -> Network:
    try:
        return load_network(path)
    except NetworkFileError as exc:
        raise SystemExit(f"stockline: {exc}") from exc
    except OSError as exc:
        raise SystemExit(f"stockline: cannot read network file {path}: {exc}") from exc


def _print(runs: dict[str, Kpis], report: str | None) -> None:
    print(table(runs))
    if report:
        json_path, png_path = write_report(Path(report), runs)
        print(f"\nwrote {json_path} and {png_path}")
