"""What the reliability tests measure: the Redis ledger against the reference fold, cell by
cell; the event ids the `seen` sets hold per SKU against the produced ones; the latest
`inventory.atp.nodes` records against the ledger; the signal topics against the review rule
and the reference positions; workers' counters; offsets."""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition
from redis.asyncio import Redis, RedisCluster

from stockline.adapters.redis.keys import Keys
from stockline.adapters.redis.replies import flat, snapshot_from_hash
from stockline.contracts.signals import RebalanceRecord, ReorderRecord
from stockline.domain.events import Event
from tests.integration.harness import (
    Producer,
    WorkerProcess,
    World,
    eventually,
    read_to_end,
    scrape,
)
from tests.unit.domain.reference import Stock, reference_fold

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
    return counted_by(await scrape(worker), "stockline_events_total", "outcome")


def counted_by(text: str, name: str, label: str) -> Counter[str]:
    """One counter of a /metrics text summed by one of its labels (empty when absent)."""
    from prometheus_client.parser import text_string_to_metric_families

    totals: Counter[str] = Counter()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                totals[sample.labels[label]] += int(sample.value)
    return totals


def signals_counted(text: str) -> Counter[str]:
    """`stockline_signals_total` of a /metrics text by kind (reorder, rebalance)."""
    return counted_by(text, "stockline_signals_total", "kind")


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
    """Counters of successive worker processes: the last scrape of each before it died
    (events by outcome, and signals by kind)."""

    last: dict[int, Counter[str]] = field(default_factory=dict)
    signals: dict[int, Counter[str]] = field(default_factory=dict)

    async def scrape(self, worker: WorkerProcess) -> Counter[str]:
        text = await scrape(worker)
        now = counted_by(text, "stockline_events_total", "outcome")
        if now:
            self.last[worker.web_port] = now
            self.signals[worker.web_port] = signals_counted(text)
        return now

    def total(self) -> Counter[str]:
        return sum(self.last.values(), Counter())

    def signals_total(self) -> Counter[str]:
        return sum(self.signals.values(), Counter())


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


# Signals (DESIGN.md section 5) -----------------------------------------------------------

NODE_KINDS = {"DC-1": "dc", "MFC-1": "mfc", "STORE-1": "store", "STORE-2": "store"}
SIGNAL_KINDS = ("reorder", "rebalance")
LANES = {
    ("DC-1", "MFC-1"): (1, 0.2),
    ("DC-1", "STORE-1"): (2, 0.4),
    ("DC-1", "STORE-2"): (2, 0.45),
    ("MFC-1", "DC-1"): (3, 0.5),
    ("MFC-1", "STORE-1"): (1, 0.25),
    ("MFC-1", "STORE-2"): (1, 0.3),
    ("STORE-1", "STORE-2"): (1, 0.1),
    ("STORE-2", "STORE-1"): (9, 0.1),  # not faster than a 7-day supplier: never rebalances
}
"""(from, to) -> (transit_days, cost_per_unit) of the signal checks' networks."""
REPLAY_CONFLICT = (
    "known defect: when a batch's signals went out but its review marks did not stay in "
    "Redis (Redis lost its tail, or a kill -9 fell between publishing and recording "
    "progress), the replay reviews the SKU from the older marks at other positions and "
    "publishes a different signal under an id already out (consumers drop it as a repeat)"
)
"""Why a fault test ends as xfail when `SignalReport.conflicting` is not 0 (every other
check has passed by then)."""
NO_SWEEP = {"review_interval_s": 0}
"""Worker settings of a world whose signals are checked: without the daily sweep, every
review is a batch's, on the SKU's event clock (the sweep reviews on the wall clock's day,
which is not the events' when they lie on yesterday; see `stories.on_one_utc_day`)."""


@dataclass(frozen=True)
class MinMax:
    """A static policy: a node is short while position <= reorder_point, and the day's
    signals bring it to order_up_to, in whole case packs (a reorder at least the MOQ)."""

    reorder_point: int
    order_up_to: int
    case_pack: int
    moq: int
    lead_time_days: int


@dataclass(frozen=True)
class SignalNetwork:
    """The network file of a world whose signals are checked, and what the checks read in
    its place (they never parse it back): one static policy for every (node, sku), and the
    lanes, (from, to) -> (transit_days, cost_per_unit)."""

    policy: MinMax
    lanes: Mapping[tuple[str, str], tuple[int, float]]

    def write(self, directory: Path) -> Path:
        import yaml

        p = self.policy
        policy = {
            "kind": "static",
            "reorder_point": p.reorder_point,
            "order_up_to": p.order_up_to,
            "supplier_lead_time_days": p.lead_time_days,
            "case_pack": p.case_pack,
            "moq": p.moq,
        }
        channels = {"dc": ["web"], "mfc": ["web"], "store": ["store-pickup"]}
        data = {
            "nodes": [
                {"id": node, "kind": kind, "region": "east", "channels": channels[kind]}
                for node, kind in NODE_KINDS.items()
            ],
            "lanes": [
                {"from": a, "to": b, "transit_days": days, "cost_per_unit": cost}
                for (a, b), (days, cost) in self.lanes.items()
            ],
            "classes": {"default": "C"},
            "policies": {"defaults": dict.fromkeys(("A", "B", "C"), policy)},
        }
        path = directory / "network.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path


@dataclass(frozen=True)
class SignalSeen:
    """One record of a signal topic: `node` is the node it brings units to (a reorder's
    node_id, a rebalance's to_node) and `qty` those units."""

    kind: str
    sku: str
    node: str
    qty: int
    record: ReorderRecord | RebalanceRecord

    @property
    def signal_id(self) -> str:
        return self.record.signal_id

    def content(self) -> str:
        """The record but its `as_of`, the time the review read the positions: a replay
        reads them later, so only that field may differ between repeats of one id."""
        return self.record.model_dump_json(exclude={"as_of"})


@dataclass
class SignalReport:
    """Both signal topics after the faults, judged by `judge_signals`."""

    records: Counter[str] = field(default_factory=Counter)
    """Records per kind, repeats included."""
    distinct: Counter[str] = field(default_factory=Counter)
    """Distinct signal ids per kind."""
    short: int = 0
    """(node, sku) pairs whose reference position ends at or below the reorder point."""
    malformed: int = 0
    """Records that are no valid signal, or whose key is not their SKU."""
    conflicting: int = 0
    """Signal ids published with two different contents."""
    unexplained: int = 0
    """Distinct signals that are not the next of their (node, sku)'s chain on the review
    day (see `judge_signals`), or name a (node, sku) the reference has no planned stock at."""
    wrong: int = 0
    """Review steps whose signals break the rule: levels, lanes, case packs, the gap."""
    uncovered: int = 0
    """Short (node, sku) pairs whose review day's signals do not bring the reference
    position to order_up_to."""
    settled: bool = True
    """Whether the group had committed every input record before the topics were read."""
    examples: list[str] = field(default_factory=list)

    def faults(self, *, but: Collection[str] = ()) -> dict[str, int]:
        """The nonzero fault counts by name, those named in `but` aside (empty when the
        signals keep the rule)."""
        found = {
            "malformed": self.malformed,
            "conflicting": self.conflicting,
            "unexplained": self.unexplained,
            "wrong": self.wrong,
            "uncovered": self.uncovered,
            "unsettled": int(not self.settled),
        }
        return {name: n for name, n in found.items() if n and name not in but}


async def settled_signals(
    world: World, network: SignalNetwork, events: Iterable[Event], *, timeout: float = 90
) -> SignalReport:
    """`judge_signals` over both signal topics read to their end once the group has
    committed every input record (or `timeout` ran out): a worker publishes a batch's
    signals before its offsets become committable, so the topics then hold every signal."""
    ends = await end_offsets(world)

    def caught_up(done: Mapping[TopicPartition, int]) -> bool:
        return all(done.get(tp, 0) >= end for tp, end in ends.items())

    committed = await eventually(lambda: committed_offsets(world), caught_up, timeout=timeout)
    seen, malformed = await read_signals(world)
    report = judge_signals(seen, network, events)
    report.malformed, report.settled = malformed, caught_up(committed)
    return report


async def read_signals(world: World) -> tuple[list[SignalSeen], int]:
    """Every record of both signal topics, parsed with the contract's parsers, and how many
    were malformed (not parsed, or keyed other than by their SKU)."""
    from pydantic import ValidationError

    from stockline.contracts.signals import parse_rebalance, parse_reorder

    seen: list[SignalSeen] = []
    malformed = 0
    for kind in SIGNAL_KINDS:
        for r in await read_to_end(world, f"inventory.signals.{kind}", timeout=60):
            try:
                record = parse_reorder(r.value) if kind == "reorder" else parse_rebalance(r.value)
            except ValidationError:
                malformed += 1
                continue
            if r.key is None or r.key.decode() != record.sku:
                malformed += 1
                continue
            if isinstance(record, ReorderRecord):
                seen.append(
                    SignalSeen(kind, record.sku, record.node_id, record.suggested_qty, record)
                )
            else:
                seen.append(SignalSeen(kind, record.sku, record.to_node, record.qty, record))
    return seen, malformed


def judge_signals(
    seen: Sequence[SignalSeen], network: SignalNetwork, events: Iterable[Event]
) -> SignalReport:
    """The signals against DESIGN.md section 5 and the reference fold of `events`, for a
    world where every event of a SKU occurred on one UTC day (its every review day then)
    and whose reviews are all batches' (`NO_SWEEP`).

    Which positions a review saw depends on batch boundaries, which a crash or a
    redelivery moves, so the signals are not a function of the events. What is asserted
    holds whatever the boundaries were:

    - *Repeats are replays*: every record of one signal_id has the same content but
      `as_of` (a replay reviews the same state under the same marks; a different content
      under a seen id would be dropped by consumers as a repeat; `REPLAY_CONFLICT` says
      where the worker breaks this).
    - *Chains*: a signal's id is UUID5(kind, node, sku, review day, units the day's signals
      had covered at that node before it). So the distinct signals into one (node, sku)
      form one chain: its first review of the day has covered 0, and each review's
      rebalance and reorder (at most one of each, same covered, same `as_of`) move it on
      by their units. Every distinct signal must be a link of its (node, sku)'s chain on
      the SKU's review day: a dropped signal breaks the chain (the ones after it are
      unexplained), and so does an id from another day or a non-deterministic id. Where
      an id is conflicting, the walk follows every review that published it.
    - *The rule per review*: a reorder carries the policy's levels, a position at or below
      the reorder point, and suggested_qty = max(⌈gap/cp⌉·cp, ⌈moq/cp⌉·cp) for the gap
      order_up_to - position - covered - (the same review's transfer in) > 0; a rebalance
      runs on a lane of the network, with its transit days and cost, faster than the
      supplier lead time, in whole case packs.
    - *Coverage*: the last review of a (node, sku) saw its final position (the batch that
      last changed the SKU plans it, and a replay of that batch plans it again), so when
      the reference position ends at or below the reorder point the chain's units reach
      order_up_to - position.

    Not asserted: that a (node, sku) whose final position is above the reorder point has
    no signal. It may have been short at a batch boundary, and which prefixes of the
    events the reviews saw is the arrival order's choice, not the event set's.
    """
    report = SignalReport()
    by_id: dict[str, list[SignalSeen]] = defaultdict(list)
    for s in seen:
        report.records[s.kind] += 1
        by_id[s.signal_id].append(s)
    found: dict[str, list[str]] = defaultdict(list)  # fault -> what shows it
    for sid, records in sorted(by_id.items()):
        report.distinct[records[0].kind] += 1
        contents = sorted({s.content() for s in records})
        if len(contents) > 1:
            found["conflicting"].append(f"{sid}: {len(contents)} contents, e.g. {contents[:2]}")
    explained = _judge_chains(by_id, network, events, report, found)
    stray = sorted(sid for sid in by_id if sid not in explained)
    found["unexplained"] += [f"unexplained: {by_id[sid][0].record}" for sid in stray]
    report.conflicting, report.unexplained = len(found["conflicting"]), len(stray)
    report.wrong, report.uncovered = len(found["wrong"]), len(found["uncovered"])
    report.examples = [line for lines in found.values() for line in lines[:3]]
    return report


def _judge_chains(
    by_id: Mapping[str, Sequence[SignalSeen]],
    network: SignalNetwork,
    events: Iterable[Event],
    report: SignalReport,
    found: dict[str, list[str]],
) -> set[str]:
    """Walk the chain of every planned (node, sku) of the reference, count the short ones
    and note the wrong steps and uncovered pairs; returns the ids the chains explain."""
    by_sku: dict[str, list[Event]] = defaultdict(list)
    for e in {e.event_id: e for e in events}.values():
        by_sku[e.sku].append(e)
    final = reference_fold(e for evs in by_sku.values() for e in evs)
    p, explained = network.policy, set()
    for sku, nodes in final.items():
        day = _only_day(sku, by_sku[sku])
        for node in sorted(n for n in nodes if n in NODE_KINDS):
            chain = _chain(sku, node, day, by_id, network)
            explained |= chain.ids
            found["wrong"] += chain.faults
            position = _position(nodes[node])
            if position > p.reorder_point:
                continue
            report.short += 1
            if max(chain.ends) < p.order_up_to - position:
                found["uncovered"].append(
                    f"{sku}/{node}: ends at position {position}, its signals of day {day} "
                    f"cover {max(chain.ends)} of {p.order_up_to - position}"
                )
    return explained


@dataclass
class _Chain:
    ids: set[str] = field(default_factory=set)
    ends: set[int] = field(default_factory=set)
    """The units covered after the chain's last link (one, unless an id is conflicting)."""
    faults: list[str] = field(default_factory=list)


def _chain(
    sku: str,
    node: str,
    day: int,
    by_id: Mapping[str, Sequence[SignalSeen]],
    network: SignalNetwork,
) -> _Chain:
    """Walk the (node, sku)'s signals of review `day` link by link from covered 0. The
    signals of one review share its `as_of`, so the records of a link's two ids grouped by
    `as_of` are its reviews (one, plus its replays; more ways on at a conflicting id)."""
    from stockline.domain.signals import signal_id

    out, todo, walked = _Chain(), [0], set()
    while todo:
        covered = todo.pop()
        if covered in walked:
            continue
        walked.add(covered)
        ids = [signal_id(kind, node, sku, day, covered) for kind in ("rebalance", "reorder")]
        found = [s for sid in ids for s in by_id.get(sid, ())]
        if not found:
            out.ends.add(covered)
            continue
        out.ids |= {s.signal_id for s in found}
        reviews: dict[str, dict[str, SignalSeen]] = defaultdict(dict)
        for s in found:
            if reviews[s.record.as_of].setdefault(s.kind, s).content() != s.content():
                out.faults.append(f"{sku}/{node} covered {covered}: two {s.kind}s in one review")
        for review in reviews.values():
            move, order = review.get("rebalance"), review.get("reorder")
            if wrong := _step_fault(sku, node, covered, move, order, network):
                out.faults.append(f"{sku}/{node} covered {covered}: {wrong}")
            todo.append(covered + sum(s.qty for s in review.values()))
    return out


def _step_fault(
    sku: str,
    node: str,
    covered: int,
    move: SignalSeen | None,
    order: SignalSeen | None,
    network: SignalNetwork,
) -> str:
    """What breaks the rule in one review's signals into (node, sku), or ""."""
    p = network.policy
    for s in (move, order):
        if s is not None and (s.sku, s.node) != (sku, node):
            return f"{s.kind} names {s.sku}/{s.node}"
    if move is not None:
        m = move.record
        if not isinstance(m, RebalanceRecord):
            return f"a reorder under a rebalance id: {m}"
        lane = network.lanes.get((m.from_node, node))
        if lane is None or lane != (m.lane_days, m.lane_cost):
            return f"rebalance on no lane of the network: {m}"
        if lane[0] >= p.lead_time_days or m.qty % p.case_pack:
            return f"rebalance slower than the supplier or not in whole cases: {m}"
    if order is None:
        return ""
    r = order.record
    if not isinstance(r, ReorderRecord):
        return f"a rebalance under a reorder id: {r}"
    gap = p.order_up_to - r.position - covered - (move.qty if move else 0)
    want = max(_whole_cases(gap, p.case_pack), _whole_cases(p.moq, p.case_pack))
    if (r.reorder_point, r.order_up_to) != (p.reorder_point, p.order_up_to):
        return f"reorder with levels {r.reorder_point}/{r.order_up_to}"
    if r.position > p.reorder_point or gap <= 0 or r.suggested_qty != want:
        return f"reorder of {r.suggested_qty} for a gap of {gap} (want {want}): {r}"
    return ""


def _whole_cases(units: int, case_pack: int) -> int:
    return -(-max(0, units) // case_pack) * case_pack


def _position(stock: Stock) -> int:
    on_hand, reserved, inbound, held = stock
    return on_hand + inbound - reserved - held


def _only_day(sku: str, events: Sequence[Event]) -> int:
    days = {e.occurred_us // 86_400_000_000 for e in events}
    if len(days) != 1:
        raise ValueError(f"{sku}: events on UTC days {sorted(days)}, the checks need one")
    return days.pop()
