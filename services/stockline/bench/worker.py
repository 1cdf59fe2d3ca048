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

from stockline.adapters.kafka.options import client_options
from stockline.settings import Settings

_EVENT_TYPES = (
    "receipt", "pick", "cycle_count", "order_placed", "order_cancelled",
    "adjustment", "inbound_expected", "transfer_shipped", "transfer_received", "unknown",
)  # fmt: skip


class BenchWorld:
    """The settings of one benchmark run: every name carries the run id."""

    def __init__(self, base: Settings) -> None:
        self.run = uuid.uuid4().hex[:8]
        prefix = f"bench-{self.run}"
        self.settings = base.model_copy(
            update={
                "key_prefix": prefix,
                "consumer_group": prefix,
                "input_topics": tuple(f"{prefix}.{t}" for t in base.input_topics),
                "atp_topic": f"{prefix}.{base.atp_topic}",
                "dlq_topic": f"{prefix}.{base.dlq_topic}",
                "reorder_topic": f"{prefix}.{base.reorder_topic}",
                "rebalance_topic": f"{prefix}.{base.rebalance_topic}",
            }
        )

    async def clean(self) -> None:
        """Delete the run's Redis keys and topics, so runs do not pile up."""
        from aiokafka.admin import AIOKafkaAdminClient
        from redis.asyncio import Redis

        s = self.settings
        redis = Redis.from_url(s.redis_url)
        batch: list[bytes] = []
        async for key in redis.scan_iter(match=f"{s.key_prefix}:*", count=5000):
            batch.append(key)
            if len(batch) >= 5000:  # one UNLINK per 5,000 keys, not a round trip per key
                await redis.unlink(*batch)
                batch = []
        if batch:
            await redis.unlink(*batch)
        await redis.aclose()
        admin = AIOKafkaAdminClient(**client_options(s))
        await admin.start()
        try:
            await admin.delete_topics([*s.input_topics, *s.output_topics])
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


def json_list(values: tuple[object, ...] | list[object]) -> str:
    import json

    return json.dumps([str(v) for v in values])


class Scrape:
    def __init__(self, text: str) -> None:
        self._samples = [
            (s.name, s.labels, s.value)
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
    def __init__(self, world: BenchWorld, log_dir: Path, web_port: int = 0) -> None:
        self.world = world
        self.web_port = web_port or _free_port()
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / "worker.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "stockline.cli", "worker"],
                env=self.world.env(self.web_port),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    async def metrics(self) -> Scrape:
        def get() -> str:
            try:
                url = f"http://127.0.0.1:{self.web_port}/metrics"
                with urllib.request.urlopen(url, timeout=2) as response:
                    return str(response.read().decode())
            except OSError:
                return ""

        return Scrape(await asyncio.to_thread(get))

    def rss_mib(self) -> tuple[float, float]:
        """(current, peak) resident set size of the worker, from /proc."""
        assert self.proc is not None
        fields = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            fields[name] = value.strip()
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024

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
