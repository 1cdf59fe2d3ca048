"""The `stockline` command's errors: one line a person can act on, never a traceback."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from stockline.cli import build_parser


def stockline(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("STOCKLINE_")}
    return subprocess.run(
        [sys.executable, "-m", "stockline.cli", *args],
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_bad_network_file_stops_the_worker_naming_field_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "network.yaml"
    bad.write_text("nodes:\n  - {id: DC-1, kind: warehouse, region: east, channels: [web]}\n")
    result = stockline("worker", STOCKLINE_NETWORK_FILE=str(bad))
    assert result.returncode == 1
    assert "line 2, nodes[0].kind" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreachable_kafka_is_named_with_the_address_tried() -> None:
    result = stockline("topics", STOCKLINE_KAFKA_BOOTSTRAP="127.0.0.1:1")
    assert result.returncode == 1
    assert "cannot reach Kafka at 127.0.0.1:1 (STOCKLINE_KAFKA_BOOTSTRAP)" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreachable_redis_is_named_with_the_address_tried() -> None:
    result = stockline("worker", STOCKLINE_REDIS_URL="redis://127.0.0.1:1/0")
    assert result.returncode == 1
    assert "cannot reach Redis at redis://127.0.0.1:1/0 (STOCKLINE_REDIS_URL)" in result.stderr


def test_help_lists_every_subcommand() -> None:
    result = stockline("--help")
    assert result.returncode == 0
    for command in ("topics", "worker", "api", "demo", "dev", "rebuild", "bench"):
        assert command in result.stdout


def test_dev_status_reports_the_local_stack() -> None:
    result = stockline("dev", "status", STOCKLINE_KAFKA_PORT="1", STOCKLINE_REDIS_PORT="2")
    assert result.returncode == 0
    assert "Kafka: down (127.0.0.1:1)" in result.stderr
    assert "Redis: down (127.0.0.1:2)" in result.stderr


def test_every_subcommand_help_explains_the_command_and_each_option() -> None:
    subcommands = next(
        a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)
    )
    for name, parser in subcommands.choices.items():
        assert parser.description, f"stockline {name} --help says nothing of what it does"
        unexplained = [
            a.dest for a in parser._actions if a.dest != "help" and not (a.help or "").strip()
        ]
        assert not unexplained, f"stockline {name}: options without help: {unexplained}"
    bench = stockline("bench", "--help")
    assert "sustained events/s" in bench.stdout
    assert "backlog size (default: 1000000)" in bench.stdout


def test_at_the_default_log_level_the_worker_builds_no_debug_records() -> None:
    # in a child process: setting up the worker's logging reconfigures the root logger
    script = (
        "import logging, os\n"
        "from stockline.adapters.kafka.app import create_app\n"
        "from stockline.cli import faust_worker\n"
        "from stockline.settings import Settings\n"
        "faust_worker(create_app(Settings()), 'warning')._setup_logging()\n"
        "kafka = logging.getLogger('aiokafka.producer.producer')\n"
        "levels = (kafka.isEnabledFor(logging.DEBUG), kafka.isEnabledFor(logging.WARNING))\n"
        "os.write(1, repr(levels).encode())\n"  # print() is redirected into logging by now
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.endswith("(False, True)")
