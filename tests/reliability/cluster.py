"""A local 3-broker Apache Kafka cluster (KRaft, every node broker and controller) from the
jars deploy/local/stack.sh caches: replication factor 3, min.insync.replicas 2, no unclean
leader election. On free ports, with its own data, so a test may kill -9 a broker.

Also usable by hand: `python -m tests.reliability.cluster <dir>` starts one and prints the
bootstrap servers; Ctrl-C stops it.
"""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

ROOT = Path(__file__).resolve().parents[2]
JVM = ("-Xms128m", "-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")


def kafka_libs() -> Path:
    """The broker classpath directory, assembled by `deploy/local/stack.sh install` if missing."""
    subprocess.run([str(ROOT / "deploy/local/stack.sh"), "install"], check=True, timeout=900)
    cache = Path(os.environ.get("STOCKLINE_CACHE", Path.home() / ".cache/stockline"))
    found = sorted(cache.glob("kafka-*/libs/.complete"))
    if not found:
        raise RuntimeError(f"no Kafka jars under {cache} after deploy/local/stack.sh install")
    return found[-1].parent


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _cluster_id() -> str:
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


@dataclass
class Broker:
    node_id: int
    port: int
    controller_port: int
    data_dir: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class KafkaCluster:
    """Three KRaft nodes on loopback; `kill(node_id)` is kill -9 of one broker."""

    def __init__(self, base_dir: Path, libs: Path, size: int = 3) -> None:
        ports = _free_ports(2 * size)
        self.libs = libs
        self.brokers = [
            Broker(n + 1, ports[2 * n], ports[2 * n + 1], base_dir / f"node-{n + 1}")
            for n in range(size)
        ]
        self.voters = ",".join(f"{b.node_id}@127.0.0.1:{b.controller_port}" for b in self.brokers)

    @property
    def bootstrap(self) -> str:
        return ",".join(b.address for b in self.brokers)

    def _java(self, *args: str) -> list[str]:
        return ["java", *JVM, "-Djava.awt.headless=true", "-cp", f"{self.libs}/*", *args]

    def _properties(self, b: Broker) -> Path:
        path = b.data_dir / "server.properties"
        b.data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    f"node.id={b.node_id}",
                    f"controller.quorum.voters={self.voters}",
                    f"listeners=PLAINTEXT://{b.address},CONTROLLER://127.0.0.1:{b.controller_port}",
                    f"advertised.listeners=PLAINTEXT://{b.address}",
                    "controller.listener.names=CONTROLLER",
                    "inter.broker.listener.name=PLAINTEXT",
                    "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                    f"log.dirs={b.data_dir}/data",
                    "default.replication.factor=3",
                    "min.insync.replicas=2",
                    "unclean.leader.election.enable=false",
                    "offsets.topic.replication.factor=3",
                    "offsets.topic.num.partitions=3",
                    "transaction.state.log.replication.factor=3",
                    "transaction.state.log.min.isr=2",
                    "share.coordinator.state.topic.replication.factor=3",
                    "share.coordinator.state.topic.min.isr=2",
                    "group.initial.rebalance.delay.ms=0",
                    "auto.create.topics.enable=false",
                    "broker.heartbeat.interval.ms=500",
                    "broker.session.timeout.ms=3000",
                    "",
                ]
            )
        )
        return path

    def start(self, timeout: float = 120) -> KafkaCluster:
        cid = _cluster_id()
        formats = [
            subprocess.Popen(
                self._java(
                    "kafka.tools.StorageTool", "format", "-t", cid, "-c", str(self._properties(b))
                ),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for b in self.brokers
        ]
        if any(p.wait(timeout=120) != 0 for p in formats):
            raise RuntimeError("formatting KRaft storage failed")
        for b in self.brokers:
            self.start_broker(b.node_id)
        self.wait_ready(timeout)
        return self

    def start_broker(self, node_id: int) -> None:
        b = self.brokers[node_id - 1]
        with (b.data_dir / "server.log").open("ab") as log:
            b.proc = subprocess.Popen(
                self._java("kafka.Kafka", str(b.data_dir / "server.properties")),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, timeout: float) -> None:
        """Until every live broker answers and the cluster metadata lists them all."""
        deadline = time.monotonic() + timeout
        while not self._all_registered():
            if time.monotonic() > deadline:
                raise TimeoutError(f"the 3-broker cluster did not come up: {self.log_tail()}")
            time.sleep(0.5)

    def _all_registered(self) -> bool:
        return asyncio.run(_brokers_seen(self.bootstrap)) >= sum(b.alive() for b in self.brokers)

    def kill(self, node_id: int) -> None:
        b = self.brokers[node_id - 1]
        if b.proc is not None and b.alive():
            b.proc.send_signal(signal.SIGKILL)
            b.proc.wait(timeout=30)

    def stop(self) -> None:
        for b in self.brokers:
            if b.proc is not None and b.alive():
                b.proc.terminate()
        for b in self.brokers:
            if b.proc is not None:
                try:
                    b.proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    self.kill(b.node_id)

    def log_tail(self, lines: int = 15) -> str:
        out = []
        for b in self.brokers:
            log = b.data_dir / "server.log"
            text = log.read_text(errors="replace").splitlines()[-lines:] if log.exists() else []
            out.append(f"--- node {b.node_id}\n" + "\n".join(text))
        return "\n".join(out)


async def _brokers_seen(bootstrap: str) -> int:
    """How many brokers the cluster metadata lists (0 while it does not answer)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    try:
        await admin.start()
        return len((await admin.describe_cluster())["brokers"])
    except (KafkaError, OSError):
        return 0
    finally:
        await admin.close()


if __name__ == "__main__":
    cluster = KafkaCluster(Path(sys.argv[1]), kafka_libs()).start()
    print(cluster.bootstrap, flush=True)
    try:
        signal.pause()
    finally:
        cluster.stop()
