"""`stockline worker --processes N`: N worker processes of one consumer group on one machine.

Each child is a plain `stockline worker` with its own metrics port (`WEB_PORT + n`, or an
ephemeral one when `WEB_PORT` is 0); Kafka's group protocol shares the partitions between
them, exactly as between workers on different machines. The parent forwards SIGTERM and
SIGINT to every child and waits for them; when a child exits on its own, the parent stops
the others and exits with that child's code, so the process manager (systemd, Kubernetes)
restarts the whole set.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from types import FrameType

from stockline.settings import Settings


def child_env(settings: Settings, n: int) -> dict[str, str]:
    """The environment of child `n`: the parent's, with its own metrics port."""
    env = dict(os.environ)
    port = settings.web_port + n if settings.web_port else 0
    env["STOCKLINE_WEB_PORT"] = str(port)
    return env


def supervise(settings: Settings, processes: int, argv: Sequence[str]) -> int:
    """Run `processes` children `stockline worker <argv>` until they stop; their exit code."""
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "stockline.cli", "worker", *argv],
            env=child_env(settings, n),
        )
        for n in range(processes)
    ]

    def forward(signum: int, _frame: FrameType | None) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    while True:
        exited = [child for child in children if child.poll() is not None]
        if exited:
            forward(signal.SIGTERM, None)
            for child in children:
                child.wait()
            return exited[0].returncode or 0
        time.sleep(0.2)
