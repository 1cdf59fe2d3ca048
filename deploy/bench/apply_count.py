"""Exact Redis cost of the apply script: instructions per event, counted by callgrind.

    .venv/bin/python deploy/bench/apply_count.py capture [--events 6000] [--out calls.pickle]
    .venv/bin/python deploy/bench/apply_count.py count SCRIPT.lua [SCRIPT.lua ...] [--calls F]

`capture` runs the ledger step of deploy/bench/ledger_bench.py (the bench's workload,
2,000-event batches) on the configured Redis and records every round trip the store sends.
`count` replays them, for each script given, into a fresh `redis-server` (AOF everysec, as
the local stack runs it) under `valgrind --tool=callgrind` and prints the instructions the
server executed per event, with the captured apply script's SHA replaced by the given
script's. Timing on a shared 2-core machine varies by 10-20% between runs; instruction
counts do not (the same replay gives the same count to 0.1%), so a change to apply.lua can
be judged from one run. The replayed script must take the same arguments as the captured
one. Needs valgrind (`apt-get install valgrind`). A measurement, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import hashlib
import pickle
import shutil
import subprocess
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any

import ledger_bench  # this directory's sibling (the script's directory is on the path)
import redis
from redis.connection import Connection

from stockline.adapters.redis import transport

SCRIPTS = resources.files("stockline.adapters.redis")


def _source(name: str) -> str:
    return SCRIPTS.joinpath(name).read_text(encoding="utf-8")


def capture(events: int, out: Path) -> None:
    """Run the ledger step once, keeping every command list the transport sends."""
    sent: list[list[tuple[Any, ...]]] = []
    exchange = transport._exchange

    async def recording(conn: Any, commands: Any, on_reply: Any, raw: bool = False) -> Any:
        sent.append([tuple(c) for c in commands])
        return await exchange(conn, commands, on_reply, raw)

    transport._exchange = recording  # type: ignore[assignment]
    args = argparse.Namespace(events=events + 1, skus=10_000, nodes=20, batch=2000, repeat=1)
    ledger_bench.bootstrap.tune_gc()
    run = asyncio.run(ledger_bench.one_run(args))
    apply_sha = hashlib.sha1(_source("apply.lua").encode(), usedforsecurity=False).hexdigest()
    with out.open("wb") as f:
        pickle.dump({"events": run.events + 1, "sha": apply_sha, "round_trips": sent}, f)
    print(f"captured {len(sent)} round trips, {run.events + 1:,} events: {out}")


def _start(port: int, data: Path, out: Path) -> subprocess.Popen[bytes]:
    command = [
        "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--dump-instr=no",
        "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data),
        "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
    ]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    for _ in range(300):
        try:
            client.ping()
            return proc
        except redis.ConnectionError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("apply_count: redis-server under valgrind did not answer")


def _instructions(out: Path) -> int:
    """The largest `summary:` of the run's dumps (the one taken after the replay)."""
    best = 0
    for name in glob.glob(f"{out}*"):
        for line in Path(name).read_text().splitlines():
            if line.startswith(("summary:", "totals:")):
                best = max(best, int(line.split()[1]))
    return best


def count(script: Path, captured: dict[str, Any], port: int) -> float:
    """Instructions per event the server executes replaying the capture with `script`."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        proc = _start(port, Path(tmp), out)
        try:
            client = redis.Redis(port=port)
            sha = client.script_load(script.read_text())
            for name in ("watermarks.lua",):
                client.script_load(_source(name))
            conn = Connection(port=port)
            conn.connect()
            subprocess.run(["callgrind_control", "-z", str(proc.pid)], capture_output=True)
            errors: list[str] = []
            for commands in captured["round_trips"]:
                swapped = [tuple(sha if a == captured["sha"] else a for a in c) for c in commands]
                conn.send_packed_command([p for c in swapped for p in conn.pack_command(*c)])
                for _ in swapped:
                    try:
                        conn.read_response()
                    except redis.ResponseError as exc:
                        errors.append(str(exc))
            subprocess.run(["callgrind_control", "-d", str(proc.pid)], capture_output=True)
            if errors:
                raise SystemExit(f"apply_count: {script}: {len(errors)} errors, first {errors[0]}")
            client.shutdown(nosave=True)
        except redis.ConnectionError:
            pass  # the shutdown closes the connection
        finally:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        return _instructions(out) / int(captured["events"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    cap = sub.add_parser("capture", help="record the ledger step's round trips")
    cap.add_argument("--events", type=int, default=6000)
    cap.add_argument("--out", type=Path, default=Path("out/apply-calls.pickle"))
    cnt = sub.add_parser("count", help="instructions per event of each script")
    cnt.add_argument("scripts", type=Path, nargs="+")
    cnt.add_argument("--calls", type=Path, default=Path("out/apply-calls.pickle"))
    cnt.add_argument("--port", type=int, default=6399)
    args = parser.parse_args()
    if args.command == "capture":
        args.out.parent.mkdir(parents=True, exist_ok=True)
        capture(args.events, args.out)
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("apply_count: needs valgrind (apt-get install valgrind)")
    with args.calls.open("rb") as f:
        captured = pickle.load(f)  # a file this script wrote
    for script in args.scripts:
        per_event = count(script, captured, args.port)
        print(f"{script}: {per_event / 1000:,.1f} thousand instructions per event", flush=True)


if __name__ == "__main__":
    main()
