"""Run real `stockline worker` processes against the real stack, each test in its own world:
its own topics, consumer group, Redis key prefix and metrics port."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from stockline.contracts.codec import encode
from stockline.domain.events import Event, InventoryEvent, event_type_of
from stockline.settings import INPUT_TOPICS, Settings

T = TypeVar("T")

TOPIC_BY_TYPE = {
    "receipt": "inventory.receipts",
    "inbound_expected": "inventory.receipts",
    "pick": "inventory.picks",
    "cycle_count": "inventory.cycle-counts",
    "order_placed": "inventory.orders",
    "order_cancelled": "inventory.orders",
    "adjustment": "inventory.adjustments",
    "transfer_shipped": "inventory.transfers",
    "transfer_received": "inventory.transfers",
    "lost_sale": "inventory.orders",
    "hold_placed": "inventory.reservations",
    "hold_extended": "inventory.reservations",
    "hold_released": "inventory.reservations",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


WORLD_RUNS: set[str] = set()
"""The run ids of the worlds whose topics this test session created."""


@dataclass
class World:
    """One test's topics, group and keys; `env` configures a worker for them."""

    bootstrap: str
    redis_url: str
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    partitions: int = 3
    network_file: Path | None = None

    def topic(self, name: str) -> str:
        return f"{self.run}.{name}"

    @property
    def settings(self) -> Settings:
        return Settings(**self._fields())

    def _fields(self) -> dict[str, Any]:
        network = {"network_file": str(self.network_file)} if self.network_file else {}
        return network | {
            "kafka_bootstrap": self.bootstrap,
            "redis_url": self.redis_url,
            "key_prefix": f"it-{self.run}",
            "consumer_group": f"stockline-{self.run}",
            "input_topics": [self.topic(t) for t in INPUT_TOPICS],
            "reservations_topic": self.topic("inventory.reservations"),
            "atp_topic": self.topic("inventory.atp"),
            "atp_nodes_topic": self.topic("inventory.atp.nodes"),
            "dlq_topic": self.topic("inventory.dlq"),
            "reorder_topic": self.topic("inventory.signals.reorder"),
            "rebalance_topic": self.topic("inventory.signals.rebalance"),
            "partitions": self.partitions,
            "batch_within_s": 0.01,
            "lag_interval_s": 0.5,
        }

    async def create_topics(self) -> None:
        """What `stockline topics` does, for this world (producers need the topics first);
        the session deletes them at its end (`tests/conftest.py`)."""
        from stockline.adapters.kafka.topics import ensure_topics

        WORLD_RUNS.add(self.run)
        await ensure_topics(self.settings)

    def env(self, web_port: int) -> dict[str, str]:
        values = {**self._fields(), "web_port": web_port}
        env = {k: v for k, v in os.environ.items() if not k.startswith("STOCKLINE_")}
        for name, value in values.items():
            env[f"STOCKLINE_{name.upper()}"] = (
                json.dumps(value) if isinstance(value, list) else str(value)
            )
        return env


class WorkerProcess:
    """A `stockline worker` subprocess; `kill()` is kill -9, `stop()` is a clean SIGTERM."""

    def __init__(self, world: World, log_dir: Path) -> None:
        self.world = world
        self.web_port = free_port()
        self.log_path = log_dir / f"worker-{self.web_port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "stockline.cli", "worker", "--loglevel", "info"],
                env=self.world.env(self.web_port),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}/metrics"

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def _inventory(event: Event) -> InventoryEvent:
    """`event` as one of the event types the codec encodes (tests build them as `Event`)."""
    assert isinstance(event, InventoryEvent), f"not an inventory event: {event!r}"
    return event


class Producer:
    """Publishes events (and raw bytes) into a world's input topics, keyed by SKU."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._producer = AIOKafkaProducer(
            bootstrap_servers=world.bootstrap, acks="all", linger_ms=5, enable_idempotence=True
        )

    async def __aenter__(self) -> Producer:
        await self._producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._producer.stop()

    async def events(self, events: Iterable[Event]) -> None:
        pending = [
            await self._producer.send(
                self.world.topic(TOPIC_BY_TYPE[event_type_of(e)]),
                encode(_inventory(e)),
                key=e.sku.encode(),
            )
            for e in events
        ]
        await asyncio.gather(*pending)

    async def raw(self, topic: str, value: bytes, key: bytes | None) -> tuple[int, int]:
        """Send bytes as they are; returns the (partition, offset) the broker gave them."""
        meta = await self._producer.send_and_wait(self.world.topic(topic), value, key=key)
        return meta.partition, meta.offset


async def read_topic(world: World, topic: str, *, expect: int, timeout: float = 60) -> list[Any]:
    """Read a world topic from the start until `expect` records arrived (or time ran out)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=world.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        name = world.topic(topic)
        tps = [TopicPartition(name, p) for p in range(world.partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        records: list[Any] = []
        deadline = time.monotonic() + timeout
        while len(records) < expect and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            records += [r for rs in batch.values() for r in rs]
        return records
    finally:
        await consumer.stop()


async def read_to_end(world: World, topic: str, *, timeout: float = 30) -> list[Any]:
    """Every record of a world topic, from the start to the end offsets it has when called."""
    consumer = AIOKafkaConsumer(bootstrap_servers=world.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        name = world.topic(topic)
        tps = [TopicPartition(name, p) for p in range(world.partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        records: list[Any] = []
        deadline = time.monotonic() + timeout
        while any([await consumer.position(tp) < end[tp] for tp in tps]):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} not read to its end within {timeout:.0f}s")
            batch = await consumer.getmany(*tps, timeout_ms=500)
            records += [r for rs in batch.values() for r in rs if r.offset < end[tp_of(r)]]
        return records
    finally:
        await consumer.stop()


def tp_of(record: Any) -> TopicPartition:
    return TopicPartition(record.topic, record.partition)


def latest_by_key(records: Iterable[Any]) -> dict[str, dict[str, Any]]:
    """Per key, the value of the last record by offset: what a reader of a compacted topic
    keeps. Asserts that every key sits on one partition and that its last record also has
    the highest version (so a reader dropping stale versions keeps the same)."""
    last: dict[str, tuple[int, int, dict[str, Any]]] = {}
    highest: dict[str, int] = {}
    for record in records:
        key, value = record.key.decode(), json.loads(record.value)
        known = last.get(key)
        assert known is None or known[0] == record.partition, f"{key} on two partitions"
        if known is None or record.offset > known[1]:
            last[key] = (record.partition, record.offset, value)
        highest[key] = max(highest.get(key, -1), value["version"])
    for key, (_, _, value) in last.items():
        assert value["version"] == highest[key], f"{key}: last record is not the newest version"
    return {key: value for key, (_, _, value) in last.items()}


async def published_nodes(world: World) -> dict[tuple[str, str], dict[str, Any]]:
    """The latest `inventory.atp.nodes` record per (sku, node_id), each checked against the
    contract and its key."""
    from stockline.contracts.outbound import NodeAtpRecord, node_record_key

    out: dict[tuple[str, str], dict[str, Any]] = {}
    for key, value in latest_by_key(await read_to_end(world, "inventory.atp.nodes")).items():
        record = NodeAtpRecord.model_validate(value)
        assert key == node_record_key(record.sku, record.node_id)
        out[record.sku, record.node_id] = value
    return out


async def published_skus(world: World) -> dict[str, dict[str, Any]]:
    """The latest `inventory.atp` record per SKU, each checked against the contract and its
    key."""
    from stockline.contracts.outbound import SkuAtpRecord

    out = latest_by_key(await read_to_end(world, "inventory.atp"))
    for key, value in out.items():
        assert SkuAtpRecord.model_validate(value).sku == key
    return out


async def eventually(
    probe: Callable[[], Awaitable[T]], done: Callable[[T], bool], *, timeout: float = 90
) -> T:
    """Poll `probe` until `done(result)`; return the last result either way."""
    deadline = time.monotonic() + timeout
    result = await probe()
    while not done(result) and time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        result = await probe()
    return result


async def scrape(worker: WorkerProcess) -> str:
    """The worker's /metrics text, or "" while it is not serving yet."""

    def get() -> str:
        try:
            with urllib.request.urlopen(worker.metrics_url(), timeout=2) as response:
                return str(response.read().decode())
        except OSError:
            return ""

    return await asyncio.to_thread(get)


def metric_value(text: str, name: str, **labels: str) -> float:
    """One sample's value from a Prometheus text exposition (0 when absent)."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0
