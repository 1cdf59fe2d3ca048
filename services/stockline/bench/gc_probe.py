"""Run a `stockline` command with its full garbage collections logged, so the benchmark can
tell whether one fell inside the latency window.

    python -m stockline.bench.gc_probe LOG_FILE worker

appends `<epoch µs at the end> <pause µs>` to LOG_FILE for every collection of the oldest
generation (the ones that walk the whole heap); younger ones are not logged. The callback
costs a comparison per collection, so the worker runs as `stockline worker` does.
"""

from __future__ import annotations

import gc
import runpy
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

OLDEST = 2


def install(log: TextIO) -> None:
    started = [0]

    def on_collection(phase: str, info: dict[str, Any]) -> None:
        if info["generation"] != OLDEST:
            return
        if phase == "start":
            started[0] = time.perf_counter_ns()
            return
        pause_us = (time.perf_counter_ns() - started[0]) // 1000
        log.write(f"{time.time_ns() // 1000} {pause_us}\n")

    gc.callbacks.append(on_collection)


def read_pauses(path: Path) -> list[tuple[int, int]]:
    """(epoch µs, pause µs) of every logged full collection; none when there is no log."""
    try:
        return parse_pauses(path.read_text().splitlines())
    except OSError:
        return []


def parse_pauses(lines: Iterable[str]) -> list[tuple[int, int]]:
    pauses = []
    for line in lines:
        parts = line.split()
        if len(parts) == 2 and all(p.isdigit() for p in parts):  # a torn last line is skipped
            pauses.append((int(parts[0]), int(parts[1])))
    return pauses


def main() -> int:
    """`python -m stockline.bench.gc_probe LOG <stockline args>`: the stockline CLI, run as
    its own `__main__` (so the bench imports no entry point), with full collections logged."""
    log = Path(sys.argv[1]).open("a", buffering=1)  # noqa: SIM115 - open until the process ends
    install(log)
    sys.argv = ["stockline", *sys.argv[2:]]
    runpy.run_module("stockline.cli", run_name="__main__", alter_sys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
