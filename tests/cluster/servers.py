"""A Redis Cluster of a test's own: 3 primaries + 3 replicas of Debian's redis-server on free
ports (AOF everysec), a short `cluster-node-timeout` so a replica is promoted within a few
seconds of its primary's kill -9. The shared cluster on 7001-7006 is never touched."""

from __future__ import annotations

import random
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.reliability.servers import wait_for_ping


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _cluster_ports(n: int) -> list[int]:
    """Ports whose cluster bus port (+10000) is free too."""
    found: list[int] = []
    while len(found) < n:
        port = random.randrange(20000, 55000)
        if port not in found and _free(port) and _free(port + 10000):
            found.append(port)
    return found


@dataclass
class Primary:
    port: int
    node_id: str
    slots: int


class RedisClusterServers:
    def __init__(self, data_dir: Path, *, node_timeout_ms: int = 1000) -> None:
        self.data_dir = data_dir
        self.node_timeout_ms = node_timeout_ms
        self.ports = _cluster_ports(6)
        self.procs: dict[int, subprocess.Popen[bytes]] = {}

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def start(self) -> RedisClusterServers:
        for port in self.ports:
            self._start_node(port)
        for port in self.ports:
            self._wait_ping(port, 20)
        subprocess.run(
            [
                "redis-cli",
                "--cluster",
                "create",
                *(f"127.0.0.1:{p}" for p in self.ports),
                "--cluster-replicas",
                "1",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        self.wait_ok(self.ports[0], 30)
        self.wait_replicas_synced(30)
        return self

    def _start_node(self, port: int) -> None:
        node_dir = self.data_dir / str(port)
        node_dir.mkdir(parents=True, exist_ok=True)
        with (node_dir / "redis.log").open("ab") as log:
            self.procs[port] = subprocess.Popen(
                [
                    "redis-server",
                    *("--bind", "127.0.0.1", "--port", str(port), "--dir", str(node_dir)),
                    *("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"),
                    *("--cluster-node-timeout", str(self.node_timeout_ms)),
                    *("--cluster-require-full-coverage", "no"),
                    *("--appendonly", "yes", "--appendfsync", "everysec", "--save", ""),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @staticmethod
    def _wait_ping(port: int, timeout: float) -> None:
        wait_for_ping(port, timeout)

    def _cli(self, port: int, *args: str) -> str:
        out = subprocess.run(
            ["redis-cli", "-p", str(port), *args], capture_output=True, text=True, timeout=30
        )
        return out.stdout

    def live_port(self) -> int:
        return next(p for p in self.ports if self.procs[p].poll() is None)

    def state(self) -> str:
        info = self._cli(self.live_port(), "cluster", "info")
        for line in info.splitlines():
            if line.startswith("cluster_state:"):
                return line.split(":", 1)[1].strip()
        return ""

    def wait_ok(self, port: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.state() != "ok" or len(self.primaries()) < 3:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"cluster on {port} not ok: {self._cli(port, 'cluster', 'info')}"
                )
            time.sleep(0.1)

    def wait_replicas_synced(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            roles = [
                self._cli(p, "role").split() for p in self.ports if self.procs[p].poll() is None
            ]
            if all(r and (r[0] == "master" or "connected" in r) for r in roles):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"replicas not in sync: {roles}")
            time.sleep(0.1)

    def primaries(self) -> list[Primary]:
        """The live primaries that own slots, from a live node's view."""
        out = []
        for line in self._cli(self.live_port(), "cluster", "nodes").splitlines():
            parts = line.split()
            if len(parts) < 8 or "master" not in parts[2] or "fail" in parts[2]:
                continue
            slots = 0
            for r in parts[8:]:
                if r.startswith("["):
                    continue
                low, _, high = r.partition("-")
                slots += int(high or low) - int(low) + 1
            if slots:
                out.append(Primary(int(parts[1].split(":")[1].split("@")[0]), parts[0], slots))
        return out

    def replica_of(self, primary: Primary) -> int:
        for line in self._cli(self.live_port(), "cluster", "nodes").splitlines():
            parts = line.split()
            if len(parts) > 3 and parts[3] == primary.node_id and "fail" not in parts[2]:
                return int(parts[1].split(":")[1].split("@")[0])
        raise LookupError(f"no replica of {primary}")

    def cut_replication(self, primary: Primary) -> None:
        """Drop the primary's link to its replica and keep it down (the replica's next
        handshake fails on a password the primary does not have): from now on, what the
        primary acknowledges exists only on the primary."""
        self._cli(self.replica_of(primary), "config", "set", "masterauth", "no-such-password")
        self._cli(primary.port, "client", "kill", "type", "replica")

    def repl_offset(self, port: int, field: str = "master_repl_offset") -> int:
        for line in self._cli(port, "info", "replication").splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split(":", 1)[1])
        return -1

    def errorstats(self) -> dict[str, int]:
        """MOVED, ASK, TRYAGAIN, CLUSTERDOWN... replies the live nodes gave, summed."""
        out: dict[str, int] = {}
        for port in self.ports:
            if self.procs[port].poll() is not None:
                continue
            for line in self._cli(port, "info", "errorstats").splitlines():
                if line.startswith("errorstat_"):
                    name, _, rest = line.partition(":")
                    count = int(rest.split("=")[1].split(",")[0])
                    out[name[len("errorstat_") :]] = out.get(name[len("errorstat_") :], 0) + count
        return out

    def kill(self, port: int) -> None:
        """kill -9: no shutdown, no final fsync, no last replication."""
        proc = self.procs[port]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    def wait_promoted(self, dead: int, timeout: float = 30) -> float:
        """Seconds until every slot has a live primary again after `dead` was killed."""
        started = time.monotonic()
        while True:
            ports = {p.port for p in self.primaries()}
            if dead not in ports and len(ports) == 3 and self.state() == "ok":
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise TimeoutError("no replica was promoted")
            time.sleep(0.05)

    def reshard(self, source: Primary, target: Primary, slots: int) -> None:
        subprocess.run(
            [
                "redis-cli",
                "--cluster",
                "reshard",
                f"127.0.0.1:{self.live_port()}",
                *("--cluster-from", source.node_id, "--cluster-to", target.node_id),
                *("--cluster-slots", str(slots), "--cluster-yes"),
                *("--cluster-pipeline", "100"),
            ],
            check=True,
            capture_output=True,
            timeout=600,
        )

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=30)
