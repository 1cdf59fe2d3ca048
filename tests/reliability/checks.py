"""What the reliability tests measure: the Redis ledger against the reference fold, cell by
cell; the event ids the `seen` sets hold per SKU against the produced ones; the latest
`inventory.atp.nodes` records against the ledger; workers' counters; offsets."""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition
from redis.asyncio import Redis, RedisCluster

from stockline.adapters.redis.keys import Keys
from stockline.adapters.redis.replies import flat, snapshot_from_hash
from stockline.domain.events import Event
from tests.integration.harness import (
    Producer,
    WorkerProcess,
    World,
    eventually,
    read_to_end,
    scrape,
)
from tests.unit.domain.reference import Stock

Ledger = dict[str, dict[str, Stock]]
FIELDS = ("on_hand", "reserved", "inbound", "held")
OUTCOMES = ("applied", "duplicate", "redelivered", "rejected")


class LedgerProbe:
    """Reads one world's ledger and seen sets from a Redis or a Redis Cluster client
    (read-only, pipelined; responses decoded)."""

    def __init__(self, redis: Redis | RedisCluster, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys

    async def ledger(self, skus: Sequence[str]) -> Ledger:
        pipe = self.redis.pipeline(transaction=False)
        for sku in skus:
            pipe.hgetall(self.keys.ledger(sku))
        out: Ledger = {}
        for sku, found in zip(skus, await pipe.execute(), strict=True):
            snapshot = snapshot_from_hash(sku, flat(found))
            if snapshot is not None:
                out[sku] = {
                    n: (s.on_hand, s.reserved, s.inbound, s.held) for n, s in snapshot.nodes.items()
                }
        return out

    async def seen(self, skus: Sequence[str]) -> dict[str, set[str]]:
        """Per SKU, the event ids its ledger shard's `seen` set holds for it."""
        shards = sorted({self.keys.shard(sku) for sku in skus})
        pipe = self.redis.pipeline(transaction=False)
        for shard in shards:
            pipe.zrange(self.keys.seen(shard), 0, -1)
        out: dict[str, set[str]] = {sku: set() for sku in skus}
        for members in await pipe.execute():
            for member in members:
                sku, _, event_id = member.partition("|")
                if sku in out:
                    out[sku].add(event_id)
        return out

    async def versions(self, skus: Sequence[str]) -> dict[str, int]:
        """Each SKU's ledger version (bumped once per batch that changed it)."""
        pipe = self.redis.pipeline(transaction=False)
        for sku in skus:
            pipe.hgetall(self.keys.ledger(sku))
        out: dict[str, int] = {}
        for sku, found in zip(skus, await pipe.execute(), strict=True):
            snapshot = snapshot_from_hash(sku, flat(found))
            if snapshot is not None:
                out[sku] = snapshot.version
        return out

    async def watermarks(self) -> dict[str, int]:
        # the client decodes responses (decode_responses=True): keys and values are str
        found = cast("dict[str, str]", await self.redis.hgetall(self.keys.watermarks()))
        return {tp: int(offset) for tp, offset in found.items()}

    async def forget_connections(self) -> None:
        """Drop pooled connections to a server that restarted (the next read reconnects)."""
        if isinstance(self.redis, Redis):
            await self.redis.connection_pool.disconnect()
        else:
            for node in self.redis.get_nodes():
                await node.disconnect()

    async def close(self, *, clean: bool) -> None:
        """Close the client; with `clean`, first delete every key of the world."""
        if clean:
            async for key in self.redis.scan_iter(match=f"{self.keys.prefix}:*", count=1000):
                await self.redis.unlink(key)
        await self.redis.aclose()


def divergent_cells(got: Ledger, expected: Ledger) -> int:
    """Cells (sku, node, field) whose value differs, counting a missing cell as different."""
    cells = 0
    for sku in set(got) | set(expected):
        nodes_got, nodes_want = got.get(sku, {}), expected.get(sku, {})
        for node in set(nodes_got) | set(nodes_want):
            a, b = nodes_got.get(node), nodes_want.get(node)
            cells += sum(1 for i in range(3) if a is None or b is None or a[i] != b[i])
    return cells


def cell_count(ledger: Ledger) -> int:
    return sum(len(nodes) for nodes in ledger.values()) * len(FIELDS)


@dataclass
class AtpReport:
    """The latest `inventory.atp.nodes` record per (sku, node), as a storefront keeps it."""

    divergent: int
    """Cells (sku, node, field) where the last record by offset differs from the expected
    ledger, counting a missing record as different."""
    regressed: int
    """Keys whose last record by offset does not carry the highest version published for
    them: a reader dropping records whose version is not above the last one it applied
    would keep an older record there."""
    malformed: int
    """Records that are not a valid `NodeAtpRecord` or whose key is not `<sku>/<node_id>`."""
    unpublished: int
    """SKUs whose ledger version is not the newest version among their nodes' last records:
    the ledger's last change to them never reached the topic (or the topic claims a change
    the ledger does not have)."""
    examples: list[str] = field(default_factory=list)
    """A few of the keys above, with what was published and expected, for the failure."""


async def atp_report(world: World, expected: Ledger, versions: Mapping[str, int]) -> AtpReport:
    """Read `inventory.atp.nodes` to its end and compare the latest records with `expected`
    and the ledger's `versions`."""
    from pydantic import ValidationError

    from stockline.contracts.outbound import NodeAtpRecord, node_record_key

    last: dict[str, tuple[int, int, NodeAtpRecord]] = {}
    highest: dict[str, int] = {}
    malformed = 0
    for r in await read_to_end(world, "inventory.atp.nodes", timeout=60):
        try:
            record = NodeAtpRecord.model_validate_json(r.value)
        except ValidationError:
            malformed += 1
            continue
        key = r.key.decode()
        if key != node_record_key(record.sku, record.node_id):
            malformed += 1
            continue
        if key in last and last[key][0] != r.partition:
            malformed += 1  # a key belongs on its SKU's partition only
            continue
        if key not in last or r.offset > last[key][1]:
            last[key] = (r.partition, r.offset, record)
        highest[key] = max(highest.get(key, -1), record.version)
    published: Ledger = {}
    for _, _, record in last.values():
        stock = (record.on_hand, record.reserved, record.inbound, record.held)
        published.setdefault(record.sku, {})[record.node_id] = stock
    regressed = [key for key, (_, _, rec) in last.items() if rec.version < highest[key]]
    newest: dict[str, int] = {}
    for _, _, record in last.values():
        newest[record.sku] = max(newest.get(record.sku, -1), record.version)
    unpublished = sorted(sku for sku in versions if newest.get(sku) != versions[sku])
    examples = [
        f"{sku}/{node}: published {published.get(sku, {}).get(node)}, ledger {stock}"
        for sku in sorted(expected)
        for node, stock in sorted(expected[sku].items())
        if published.get(sku, {}).get(node) != stock
    ][:5]
    examples += [
        f"{key}: last record v{last[key][2].version}, highest v{highest[key]}"
        for key in sorted(regressed)[:5]
    ]
    examples += [
        f"{sku}: ledger v{versions[sku]}, newest published v{newest.get(sku)}"
        for sku in unpublished[:5]
    ]
    divergent = divergent_cells(published, expected)
    return AtpReport(divergent, len(regressed), malformed, len(unpublished), examples)


async def settled_atp(
    world: World, probe: LedgerProbe, expected: Ledger, *, timeout: float = 90
) -> AtpReport:
    """`atp_report` against the ledger's versions now, once the topic agrees with `expected`
    (or `timeout` ran out): the workers publish right after they apply."""
    versions = await probe.versions(sorted(expected))
    return await eventually(
        lambda: atp_report(world, expected, versions),
        lambda r: (r.divergent, r.unpublished) == (0, 0),
        timeout=timeout,
    )


@dataclass
class SeenReport:
    missing: int
    unexpected: int


def seen_report(seen: dict[str, set[str]], events: Iterable[Event]) -> SeenReport:
    """Produced distinct event ids that no `seen` set holds, and held ids never produced."""
    want: dict[str, set[str]] = defaultdict(set)
    for e in events:
        want[e.sku].add(e.event_id)
    missing = sum(len(ids - seen.get(sku, set())) for sku, ids in want.items())
    unexpected = sum(len(ids - want.get(sku, set())) for sku, ids in seen.items())
    return SeenReport(missing, unexpected)


async def outcomes(worker: WorkerProcess) -> Counter[str]:
    """The worker's events_total summed over event types, by outcome (empty while down)."""
    from prometheus_client.parser import text_string_to_metric_families

    totals: Counter[str] = Counter()
    for family in text_string_to_metric_families(await scrape(worker)):
        for sample in family.samples:
            if sample.name == "stockline_events_total":
                totals[sample.labels["outcome"]] += int(sample.value)
    return totals


async def metric(worker: WorkerProcess, name: str) -> float:
    """The sum of all samples of one metric (0 when absent or the worker is down)."""
    from prometheus_client.parser import text_string_to_metric_families

    text = await scrape(worker)
    return sum(
        s.value for f in text_string_to_metric_families(text) for s in f.samples if s.name == name
    )


async def readyz(worker: WorkerProcess) -> int:
    """The HTTP status of the worker's /readyz (0 when it does not answer)."""

    def get() -> int:
        url = f"http://127.0.0.1:{worker.web_port}/readyz"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)
        except OSError:
            return 0

    return await asyncio.to_thread(get)


@dataclass
class Lifetimes:
    """Counters of successive worker processes: the last scrape of each before it died."""

    last: dict[int, Counter[str]] = field(default_factory=dict)

    async def scrape(self, worker: WorkerProcess) -> Counter[str]:
        now = await outcomes(worker)
        if now:
            self.last[worker.web_port] = now
        return now

    def total(self) -> Counter[str]:
        return sum(self.last.values(), Counter())


async def produce_paced(
    producer: Producer, events: Sequence[Event], *, seconds: float, chunk: int = 200
) -> float:
    """Send `events` evenly over about `seconds`; returns the seconds it really took."""
    started = time.monotonic()
    for n in range(0, len(events), chunk):
        await producer.events(events[n : n + chunk])
        ahead = started + seconds * (n + chunk) / len(events) - time.monotonic()
        if ahead > 0:
            await asyncio.sleep(ahead)
    return time.monotonic() - started


async def end_offsets(world: World) -> dict[TopicPartition, int]:
    """Every input partition's end offset (records written so far)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=world.bootstrap)
    await consumer.start()
    try:
        tps = [
            TopicPartition(t, p)
            for t in world.settings.input_topics
            for p in range(world.partitions)
        ]
        return dict(await consumer.end_offsets(tps))
    finally:
        await consumer.stop()


async def committed_offsets(world: World) -> dict[TopicPartition, int]:
    """The workers' group's committed offset per input partition."""
    admin = AIOKafkaAdminClient(bootstrap_servers=world.bootstrap)
    await admin.start()
    try:
        found = await admin.list_consumer_group_offsets(world.settings.consumer_group)
        return {tp: meta.offset for tp, meta in found.items()}
    finally:
        await admin.close()


async def stalled_partitions(world: World, probe: LedgerProbe) -> list[str]:
    """Input partitions holding records that the group has not committed or Redis has not
    applied up to their end."""
    ends = await end_offsets(world)
    committed = await committed_offsets(world)
    marks = await probe.watermarks()
    return [
        f"{tp.topic}[{tp.partition}]"
        for tp, end in ends.items()
        if end > 0
        and (committed.get(tp, -1) < end or marks.get(f"{tp.topic}|{tp.partition}", -1) < end - 1)
    ]


@dataclass
class WorkerStatus:
    """One scrape of a worker: events processed (any outcome), partitions it reports lag
    for (assigned and fetched), and their total lag. All 0 while it does not answer."""

    processed: int = 0
    partitions: int = 0
    lag: int = 0
    up: bool = False


async def status(worker: WorkerProcess) -> WorkerStatus:
    from prometheus_client.parser import text_string_to_metric_families

    text = await scrape(worker)
    out = WorkerStatus(up=bool(text))
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "stockline_events_total":
                out.processed += int(s.value)
            elif s.name == "stockline_consumer_lag":
                out.partitions += 1
                out.lag += int(s.value)
    return out
