"""deploy/local/stack.sh: `status` reports a stack that is not there instead of failing.

`up` ends with `status`, so a failing `status` fails `up` and, with it, the whole test
command on a bare machine where no Redis Cluster has been started yet.
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_status_on_a_machine_where_nothing_answers(tmp_path: Path) -> None:
    ports = {
        "STOCKLINE_KAFKA_PORT": _free_port(),
        "STOCKLINE_REDIS_PORT": _free_port(),
        "STOCKLINE_REDIS_CLUSTER_PORT": _free_port(),
    }
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "STOCKLINE_CACHE": str(tmp_path)}
    env |= {name: str(port) for name, port in ports.items()}

    done = subprocess.run(
        [str(ROOT / "deploy/local/stack.sh"), "status"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert f"Kafka: down (127.0.0.1:{ports['STOCKLINE_KAFKA_PORT']})" in done.stderr
    assert f"Redis: down (127.0.0.1:{ports['STOCKLINE_REDIS_PORT']})" in done.stderr
    assert f"Redis Cluster: down (127.0.0.1:{ports['STOCKLINE_REDIS_CLUSTER_PORT']})" in done.stderr
