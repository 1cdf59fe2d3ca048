"""A worker process in a namespace of its own (topics, consumer group, Redis keys)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from stockline.adapters.clients import kafka_admin, redis_client
from stockline.bench import gc_probe
from stockline.bench.procstat import ProcessTree
from stockline.settings import Settings


class BenchWorld:
    """The settings of one benchmark run: every name carries the run id. Every topic
    setting (`*_topic`, `*_topics`) is renamed, so a topic added to the settings stays
    inside the run too."""

    def __init__(self, base: Settings) -> None:
        self.run = uuid.uuid4().hex[:8]
        prefix = f"bench-{self.run}"
        self.settings = base.model_copy(
            update={"key_prefix": prefix, "consumer_group": prefix, **_topics(base, prefix)}
        )
        self.naive_group = f"{prefix}-naive"
        self.naive_topic = f"{prefix}.naive-out"

    async def create_naive_topic(self) -> None:
        """The scratch topic the naive baseline publishes to."""
        from aiokafka.admin import NewTopic

        s = self.settings
        admin = kafka_admin(s)
        await admin.start()
        try:
            topic = NewTopic(self.naive_topic, s.partitions, s.replication_factor)
            await admin.create_topics([topic])
        finally:
            await admin.close()

    async def clean(self) -> None:
        """Delete the run's Redis keys and topics, so runs do not pile up."""
        s = self.settings
        redis = redis_client(s, decode_responses=False)
        batch: list[bytes] = []
        async for key in redis.scan_iter(match=f"{s.key_prefix}:*", count=5000):
            batch.append(key)
            if len(batch) >= 5000:  # one UNLINK per 5,000 keys, not a round trip per key
                await redis.unlink(*batch)
                batch = []
        if batch:
            await redis.unlink(*batch)
        await redis.aclose()
        admin = kafka_admin(s)
        await admin.start()
        try:
            await admin.delete_topics([*s.input_topics, *s.output_topics, self.naive_topic])
        finally:
            await admin.close()

    def env(self, web_port: int) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("STOCKLINE_")}
        for name, value in self.settings.model_dump(exclude_none=True).items():
            text = json_list(value) if isinstance(value, tuple | list) else str(value)
            env[f"STOCKLINE_{name.upper()}"] = text
        env["STOCKLINE_WEB_PORT"] = str(web_port)
        env["STOCKLINE_API_TOKENS"] = "[]"
        return env


def _topics(base: Settings, prefix: str) -> dict[str, object]:
    renamed: dict[str, object] = {}
    for name in type(base).model_fields:
        value = getattr(base, name)
        if name.endswith("_topic"):
            renamed[name] = f"{prefix}.{value}"
        elif name.endswith("_topics"):
            renamed[name] = tuple(f"{prefix}.{t}" for t in value)
    return renamed


def json_list(values: tuple[object, ...] | list[object]) -> str:
    import json

    return json.dumps([str(v) for v in values])


class Scrape:
    """The samples of one or more /metrics pages (a worker's processes), values summed."""

    def __init__(self, *texts: str) -> None:
        self._samples = [
            (s.name, s.labels, s.value)
            for text in texts
            for family in text_string_to_metric_families(text)
            for s in family.samples
        ]

    def value(self, name: str, **labels: str) -> float:
        return sum(
            v
            for n, ls, v in self._samples
            if n == name and all(ls.get(k) == x for k, x in labels.items())
        )

    def consumed(self) -> float:
        return self.value("stockline_events_total")


class WorkerProcess:
    """`stockline worker` in the run's namespace, with its full garbage collections logged
    (gc_probe). CPU and memory are summed over the process and all its descendants."""

    def __init__(
        self, world: BenchWorld, log_dir: Path, web_port: int = 0, processes: int = 1
    ) -> None:
        self.world = world
        self.processes_asked = processes
        self.web_port = web_port or _free_ports(processes)
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / "worker.log"
        self.gc_log_path = log_dir / "worker-gc.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.tree: ProcessTree | None = None

    def start(self) -> WorkerProcess:
        self.gc_log_path.unlink(missing_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "stockline.bench.gc_probe",
                    str(self.gc_log_path),
                    "worker",
                    "--processes",
                    str(self.processes_asked),
                ],
                env=self.world.env(self.web_port),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.tree = ProcessTree(self.proc.pid)
        return self

    async def metrics(self) -> Scrape:
        """Every worker process's /metrics (children of `--processes N` serve one each)."""

        def get(port: int) -> str:
            try:
                url = f"http://127.0.0.1:{port}/metrics"
                with urllib.request.urlopen(url, timeout=2) as response:
                    return str(response.read().decode())
            except OSError:
                return ""

        ports = [self.web_port + n for n in range(self.processes_asked)]
        texts = await asyncio.gather(*(asyncio.to_thread(get, port) for port in ports))
        return Scrape(*texts)

    def exited(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def processes(self) -> int:
        assert self.tree is not None
        return len(self.tree.members())

    def rss_mib(self) -> tuple[float, float]:
        """(current, peak) resident set size of the worker's processes, from /proc."""
        assert self.tree is not None
        return self.tree.rss_mib()

    def full_gc_pauses(self) -> list[tuple[int, int]]:
        """(epoch µs, pause µs) of the worker's full garbage collections so far."""
        return gc_probe.read_pauses(self.gc_log_path)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _free_ports(count: int) -> int:
    """The first of `count` consecutive ports free on loopback."""
    import socket

    for _ in range(50):
        base = _free_port()
        try:
            for port in range(base, base + count):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError(f"no {count} consecutive free ports on 127.0.0.1")
