"""A redis-server of a test's own (AOF on, fsync every second), which the test may kill -9
and restart; the shared one on 6379 is never touched."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import redis

from tests.integration.harness import free_port


class RedisServer:
    """`redis-server --appendonly yes --appendfsync everysec` on a free port, data in `data_dir`."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 20) -> RedisServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with (self.data_dir / "redis.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    "redis-server",
                    *("--bind", "127.0.0.1", "--port", str(self.port)),
                    *("--dir", str(self.data_dir), "--save", ""),
                    *("--appendonly", "yes", "--appendfsync", "everysec"),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        wait_for_ping(self.port, timeout)

    def kill(self) -> None:
        """kill -9: no shutdown, no final fsync."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def restart(self) -> RedisServer:
        self.kill()
        return self.start()


def wait_for_ping(port: int, timeout: float) -> None:
    """Until the redis-server on `port` answers PING (loading its data counts as not yet)."""
    client = redis.Redis(port=port, socket_connect_timeout=1)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                if client.ping():
                    return
            except (redis.ConnectionError, redis.BusyLoadingError):
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.1)
    finally:
        client.close()
