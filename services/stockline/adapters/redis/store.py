"""The ledger in Redis: one atomic script call per SKU per batch, all in one pipeline."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from typing import Any

import msgpack
from hiredis import pack_command
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError

from stockline.adapters.redis.keys import Keys
from stockline.domain.effects import (
    Count,
    Delta,
    Demand,
    Effect,
    LineChange,
    SupplyChange,
    effects_of,
)
from stockline.domain.ledger import NodeStock, Outcome
from stockline.service_layer.ports import (
    ApplyResult,
    Delivery,
    LedgerRolledBack,
    PlanMarks,
    SkuSnapshot,
    TopicPartition,
    group_by_sku,
)

_OUTCOMES = {"a": Outcome.APPLIED, "d": Outcome.DUPLICATE, "r": Outcome.REDELIVERED}
_FIELDS = {"oh": "on_hand", "rs": "reserved", "ib": "inbound"}


class ReconnectedMidBatch(RedisConnectionError):
    """Redis was reconnected between applying a batch and recording its progress. The
    server now answering may not have that apply (a failover to a replica it had not reached,
    a restart that lost the AOF's last second), and raising the watermark over it would hide
    the loss: the caller applies the batch again (idempotent) before recording progress."""


def _script(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


class RedisLedgerStore:
    """A LedgerStore on Redis >= 7.0 (single node or Cluster: every call stays in one slot)."""

    def __init__(
        self,
        redis: Redis,
        *,
        keys: Keys,
        retention_us: int,
        demand_days: int = 56,
        on_round_trip: Callable[[], None] = lambda: None,
        with_demand: bool = True,
        cached_skus: int = 50_000,
    ) -> None:
        """`with_demand`: return the daily demand buckets with each snapshot (planning
        needs them; without a network file they are recorded but not read back).
        `cached_skus`: how many SKUs' latest snapshots to keep (0: none). A call for a SKU
        whose ledger is still at the cached versions gets back only the nodes it wrote,
        not every node of the SKU; any other write in between (another worker, a restore)
        changes the versions, and the script answers with the whole snapshot."""
        self._redis = redis
        self._with_demand = with_demand
        self._cache = _SnapshotCache(cached_skus)
        self._written: dict[str, int] = {}  # watermark fields this process raised, and to what
        self._reconnected = False
        self._unrecorded = False  # a batch was applied and its progress is not recorded yet
        redis.connection_pool.connection_kwargs["redis_connect_func"] = self._connected
        self._on_round_trip = on_round_trip
        self._keys = keys
        self._retention_us = retention_us
        self._demand_days = demand_days
        self._apply_src = _script("apply.lua")
        self._watermark_src = _script("watermarks.lua")
        self._shas: dict[str, str] = {}

    async def _connected(self, conn: Any) -> None:
        """Every new connection: after a Redis restart or failover, the next round trip first
        checks that Redis still has what this process wrote."""
        await conn.on_connect()
        self._reconnected = True
        self._cache.clear()  # a failover or restore may have rolled the versions back

    async def load_scripts(self) -> None:
        """Load the scripts into Redis' cache (again after a Redis restart)."""
        for src in (self._apply_src, self._watermark_src):
            self._shas[src] = await self._redis.script_load(src)

    async def apply(
        self,
        deliveries: Sequence[Delivery],
        now_us: int,
        on_snapshot: Callable[[SkuSnapshot], None] = lambda _: None,
    ) -> ApplyResult:
        """All SKU calls go out in one round trip; each reply is turned into outcomes and
        a snapshot as it arrives, so the caller's `on_snapshot` work runs while Redis is
        still executing the calls behind it."""
        groups = group_by_sku(deliveries)
        cached = [self._cache.get(sku) for sku, _ in groups]
        calls = [
            self._encode(sku, [d for _, d in group], now_us, known)
            for (sku, group), known in zip(groups, cached, strict=True)
        ]
        outcomes = [Outcome.APPLIED] * len(deliveries)
        snapshots: dict[int, SkuSnapshot] = {}  # by call, so a re-run overwrites
        negative: dict[int, int] = {}

        def take(call: int, reply: Any) -> None:
            sku, group = groups[call]
            version, letters, went_negative, nodes, demand, kind, marks = reply
            for (index, _), letter in zip(group, _text(letters), strict=True):
                outcomes[index] = _OUTCOMES[letter]
            negative[call] = int(went_negative)
            kind = _text(kind)
            if not kind:
                return
            known = cached[call]
            if kind == "p" and known is not None:
                snapshot = _patched(known.snapshot, int(version), nodes, demand)
                self._cache.put(_Cached(snapshot, int(marks), known.indexed))
            else:
                snapshot = _applied_snapshot(sku, int(version), nodes, demand)
                self._cache.put(_Cached(snapshot, int(marks)))
            snapshots[call] = snapshot
            on_snapshot(snapshot)

        await self._run(self._apply_src, calls, on_reply=take)
        self._unrecorded = True
        return ApplyResult(
            outcomes, [snapshots[c] for c in sorted(snapshots)], sum(negative.values())
        )

    async def record_progress(
        self,
        offsets: Mapping[TopicPartition, int],
        snapshots: Sequence[SkuSnapshot] = (),
        marks: Sequence[PlanMarks] = (),
    ) -> None:
        """One round trip: the watermark script, the node index additions and the planning
        marks (`<node>|ar` armed, `<node>|ss` safety stock in the SKU's ledger hash)."""
        args: list[str | int | bytes] = []
        for (topic, partition), offset in sorted(offsets.items()):
            args += [f"{topic}|{partition}", offset]
        extra: list[tuple[str | int | bytes, ...]] = []
        unindexed = [(s.sku, self._cache.unindexed(s)) for s in snapshots]
        for node_id, skus in _skus_by_node(unindexed).items():
            members = [item for sku in skus for item in (0, sku)]
            extra.append(("ZADD", self._keys.node_skus(node_id), "NX", *members))
        marked = [mark for mark in marks if mark.armed or mark.safety_stock]
        for mark in marked:
            ledger = self._keys.ledger(mark.sku)
            flat = [item for pair in _mark_fields(mark).items() for item in pair]
            extra += [("HSET", ledger, *flat), ("HINCRBY", ledger, "mv", 1)]
        calls = [([self._keys.watermarks()], args)] if args else []
        if calls or extra:
            try:
                await self._run(self._watermark_src, calls, extra, after_apply=self._unrecorded)
            except BaseException:
                for mark in marked:  # written or not: the next call reads them back whole
                    self._cache.forget(mark.sku)
                raise
        self._unrecorded = False
        for mark in marked:
            self._cache.marked(mark)
        for snapshot in snapshots:
            self._cache.indexed(snapshot)
        for (topic, partition), offset in offsets.items():
            field = f"{topic}|{partition}"
            self._written[field] = max(offset, self._written.get(field, -1))

    async def watermarks(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        if not partitions:
            return {}
        fields = [f"{topic}|{partition}" for topic, partition in partitions]
        values = await self._redis.hmget(self._keys.watermarks(), fields)
        return {tp: int(v) for tp, v in zip(partitions, values, strict=True) if v is not None}

    async def snapshot(self, sku: str) -> SkuSnapshot | None:
        ledger, demand = await self._round_trip(
            [("HGETALL", self._keys.ledger(sku)), ("HGETALL", self._keys.demand(sku))]
        )
        snapshot = snapshot_from_hash(sku, _flat(ledger))
        if snapshot is None:
            return None
        return replace(snapshot, demand=_parse_demand(list(_pairs(_flat(demand)))))

    async def _run(
        self,
        src: str,
        calls: list[tuple[list[str], list[str | int | bytes]]],
        extra: Sequence[tuple[str | int | bytes, ...]] = (),
        on_reply: Callable[[int, Any], None] = lambda _n, _reply: None,
        *,
        after_apply: bool = False,
    ) -> list[Any]:
        """EVALSHA every call in one round trip, followed by the `extra` commands; reload
        the scripts once if Redis lost them (re-running is safe: applied offsets come back
        redelivered). `on_reply(n, reply)` sees each call's reply that is not an error as
        it is read. Returns the calls' replies."""
        for attempt in (1, 2):
            if src not in self._shas:
                await self.load_scripts()
            sha = self._shas[src]
            commands = [("EVALSHA", sha, len(keys), *keys, *args) for keys, args in calls]
            replies = await self._round_trip(
                [*commands, *extra], on_reply, len(calls), after_apply=after_apply
            )
            errors = [r for r in replies if isinstance(r, ResponseError)]
            if any(isinstance(e, NoScriptError) for e in errors) and attempt == 1:
                self._shas.clear()
                continue
            if errors:
                raise errors[0]
            return replies[: len(calls)]
        raise AssertionError("unreachable")

    async def _check_nothing_lost(self, conn: Any) -> None:
        """Raise LedgerRolledBack when a watermark this process raised is lower in Redis now:
        Redis came back without its last writes, and applying more on top would skip them."""
        if not self._written:
            return
        fields = sorted(self._written)
        command = ("HMGET", self._keys.watermarks(), *fields)
        await conn.send_packed_command(pack_command(command))  # type: ignore[arg-type]
        (stored,) = await _read_all(conn, 1)
        lost: dict[TopicPartition, int] = {}
        for field, value in zip(fields, stored, strict=True):
            now = -1 if value is None else int(value)
            if now < self._written[field]:
                topic, _, partition = field.rpartition("|")
                lost[topic, int(partition)] = now
                self._written[field] = now
        if lost:
            raise LedgerRolledBack(lost)

    async def _round_trip(
        self,
        commands: Sequence[tuple[str | int | bytes, ...]],
        on_reply: Callable[[int, Any], None] = lambda _n, _reply: None,
        watched: int = 0,
        *,
        after_apply: bool = False,
    ) -> list[Any]:
        """Send every command at once and read every reply (an error reply comes back as
        its exception, in place), handing each of the first `watched` replies that is not
        an error to `on_reply` as soon as it is read. Commands are packed by hiredis in C:
        redis-py's asyncio pipeline packs each argument in Python, which cost more than the
        Lua itself. With `after_apply` (progress of a batch applied over an earlier
        connection), a new connection raises ReconnectedMidBatch instead of sending."""
        self._on_round_trip()
        pool = self._redis.connection_pool
        conn = await pool.get_connection()  # type: ignore[no-untyped-call]
        try:
            if self._reconnected:
                self._reconnected = False
                await self._check_nothing_lost(conn)
                if after_apply:
                    raise ReconnectedMidBatch("Redis reconnected since the batch was applied")
            packed = b"".join(pack_command(c) for c in commands)  # type: ignore[arg-type]
            await conn.send_packed_command(packed)
            replies: list[Any] = []
            for n in range(len(commands)):
                try:
                    replies.append(await conn.read_response())
                except ResponseError as exc:
                    replies.append(exc)
                    continue
                if n < watched:
                    on_reply(n, replies[n])
            return replies
        except BaseException:
            await conn.disconnect()  # a half-read reply stream must not be reused
            raise
        finally:
            await pool.release(conn)

    def _encode(
        self, sku: str, deliveries: list[Delivery], now_us: int, known: _Cached | None
    ) -> tuple[list[str], list[str | int | bytes]]:
        k = self._keys
        keys = [k.ledger(sku), k.seen(sku), k.offsets(sku), k.counts(sku), k.demand(sku)]
        index = {key: n for n, key in enumerate(keys, start=1)}

        def key_index(key: str) -> int:
            if key not in index:
                keys.append(key)
                index[key] = len(keys)  # Lua's KEYS is 1-based
            return index[key]

        events = [
            [
                d.event.event_id,
                f"{d.topic}|{d.partition}",
                d.offset,
                [self._effect_args(sku, effect, key_index) for effect in effects_of(d.event)],
            ]
            for d in deliveries
        ]
        # one packed argument: redis-py encodes each argument in Python, msgpack in C
        payload: bytes = msgpack.packb(events)
        demand = "1" if self._with_demand else "0"
        version, marks = (known.snapshot.version, known.marks) if known else (-1, -1)
        return keys, [
            now_us,
            self._retention_us,
            self._demand_days,
            demand,
            payload,
            version,
            marks,
        ]

    def _effect_args(
        self, sku: str, effect: Effect, key_index: Callable[[str], int]
    ) -> list[str | int]:
        node = effect.node_id
        match effect:
            case Delta(occurred_us=at, qty=qty):
                return ["D", node, key_index(self._keys.deltas(sku, node)), at, qty, 0]
            case Count(occurred_us=at, counted_qty=counted):
                return ["C", node, key_index(self._keys.deltas(sku, node)), at, counted, 0]
            case LineChange(order_id=order_id, placed=placed, picked=picked, cancelled=cancelled):
                key = key_index(self._keys.line(sku, node, order_id))
                return ["L", node, key, placed, picked, int(cancelled)]
            case SupplyChange(supply_id=supply_id, expected=expected, received=received):
                key = key_index(self._keys.supply(sku, node, supply_id))
                return ["S", node, key, expected, received, 0]
            case Demand(day=day, units=units):
                return ["Q", node, key_index(self._keys.demand(sku)), day, units, 0]
        raise TypeError(f"unknown effect {effect!r}")


async def _read_all(conn: Any, count: int) -> list[Any]:
    return [await conn.read_response() for _ in range(count)]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _applied_snapshot(sku: str, version: int, nodes: list[Any], demand: list[Any]) -> SkuSnapshot:
    """A snapshot from the apply script's reply: per node six entries (node, on_hand,
    reserved, inbound, armed or -1, safety_stock or -1), per demand bucket three. The
    script returns the numbers as integer replies, so they arrive as ints."""
    stock: dict[str, NodeStock] = {}
    armed: dict[str, bool] = {}
    safety: dict[str, int] = {}
    row = iter(nodes)
    for name, on_hand, reserved, inbound, arm, units in zip(*[row] * 6, strict=True):
        node = _text(name)  # bytes when the client does not decode replies
        stock[node] = NodeStock(on_hand, reserved, inbound)
        if arm >= 0:
            armed[node] = arm == 1
        if units >= 0:
            safety[node] = units
    ordered = dict(sorted(stock.items()))
    return SkuSnapshot(sku, version, ordered, _demand(demand), armed, safety)


def _demand(demand: list[Any]) -> dict[str, dict[int, int]]:
    """Per node, units per day, from the script's three entries a bucket."""
    if not demand:
        return {}
    buckets: dict[str, dict[int, int]] = {}
    cell = iter(demand)
    for node, day, units in zip(*[cell] * 3, strict=True):
        buckets.setdefault(_text(node), {})[day] = units
    return dict(sorted(buckets.items()))


@dataclass(frozen=True, slots=True)
class _Cached:
    """A SKU's latest snapshot, the ledger's marks version (field mv) it was read at, and
    how many of its nodes this store knows to list the SKU in their index (a SKU's nodes
    are never removed, so a snapshot with more nodes than that has new ones). A count,
    not a set: the garbage collector walks every set the cache holds."""

    snapshot: SkuSnapshot
    marks: int
    indexed: int = 0


class _SnapshotCache:
    """The latest snapshot of the most recently applied SKUs, least recently used out."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[str, _Cached] = OrderedDict()

    def get(self, sku: str) -> _Cached | None:
        return self._entries.get(sku)

    def put(self, entry: _Cached) -> None:
        if self._size <= 0:
            return
        self._entries[entry.snapshot.sku] = entry
        self._entries.move_to_end(entry.snapshot.sku)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def marked(self, mark: PlanMarks) -> None:
        """The marks were written (and mv raised by one) after the cached snapshot."""
        entry = self._entries.get(mark.sku)
        if entry is None:
            return
        snapshot = replace(
            entry.snapshot,
            armed={**entry.snapshot.armed, **mark.armed},
            safety_stock={**entry.snapshot.safety_stock, **mark.safety_stock},
        )
        self._entries[mark.sku] = replace(entry, snapshot=snapshot, marks=entry.marks + 1)

    def unindexed(self, snapshot: SkuSnapshot) -> Sequence[str]:
        """The snapshot's nodes, unless all of them are known to list its SKU already
        (adding a SKU to a node's index again changes nothing)."""
        entry = self._entries.get(snapshot.sku)
        if entry is not None and entry.indexed >= len(snapshot.nodes):
            return ()
        return list(snapshot.nodes)

    def indexed(self, snapshot: SkuSnapshot) -> None:
        """Every node of the snapshot lists its SKU now."""
        entry = self._entries.get(snapshot.sku)
        if entry is not None and entry.indexed < len(snapshot.nodes):
            self._entries[snapshot.sku] = replace(entry, indexed=len(snapshot.nodes))

    def forget(self, sku: str) -> None:
        self._entries.pop(sku, None)

    def clear(self) -> None:
        self._entries.clear()


def _patched(known: SkuSnapshot, version: int, nodes: list[Any], demand: list[Any]) -> SkuSnapshot:
    """The cached snapshot with the nodes an apply wrote (four entries a node: node,
    on_hand, reserved, inbound) and, when read back, the demand buckets."""
    stock = dict(known.nodes)
    row = iter(nodes)
    for name, on_hand, reserved, inbound in zip(*[row] * 4, strict=True):
        stock[_text(name)] = NodeStock(on_hand, reserved, inbound)
    if len(stock) != len(known.nodes):
        stock = dict(sorted(stock.items()))
    return replace(known, version=version, nodes=stock, demand=_demand(demand))


def _skus_by_node(nodes_of: Sequence[tuple[str, Sequence[str]]]) -> dict[str, list[str]]:
    by_node: dict[str, list[str]] = {}
    for sku, nodes in nodes_of:
        for node_id in nodes:
            by_node.setdefault(node_id, []).append(sku)
    return by_node


def _mark_fields(mark: PlanMarks) -> dict[str, str]:
    fields = {f"{node}|ar": "1" if armed else "0" for node, armed in mark.armed.items()}
    fields.update({f"{node}|ss": str(units) for node, units in mark.safety_stock.items()})
    return fields


def snapshot_from_hash(sku: str, flat: Sequence[Any]) -> SkuSnapshot | None:
    """A SKU's snapshot from its ledger hash as [field, value, ...]; None when empty."""
    if not flat:
        return None
    version = next((int(v) for f, v in _pairs(flat) if f == "v"), 0)
    return _snapshot(sku, version, flat)


def _snapshot(sku: str, version: int, flat: Sequence[Any]) -> SkuSnapshot:
    """A snapshot from the ledger hash alone (no demand: that lives in its own hash)."""
    pairs = list(_pairs(flat))
    armed = {field[:-3]: value == "1" for field, value in pairs if field.endswith("|ar")}
    safety = {field[:-3]: int(value) for field, value in pairs if field.endswith("|ss")}
    return SkuSnapshot(sku, version, _parse_nodes(pairs), {}, armed, safety)


def _pairs(flat: Sequence[Any]) -> Iterator[tuple[str, str]]:
    """(field, value) text pairs of a hash given as [field, value, field, value, ...]."""
    for i in range(0, len(flat), 2):
        field, value = flat[i], flat[i + 1]
        yield (
            field.decode() if isinstance(field, bytes) else str(field),
            value.decode() if isinstance(value, bytes) else str(value),
        )


def _flat(reply: Any) -> list[Any]:
    """HGETALL as [field, value, ...], whether the client gave a dict or a list."""
    if isinstance(reply, dict):
        return [item for pair in reply.items() for item in pair]
    return list(reply)


def _parse_demand(pairs: list[tuple[str, str]]) -> dict[str, dict[int, int]]:
    """Per node, units per day, from the demand hash's `<node>|<day>` fields."""
    demand: dict[str, dict[int, int]] = {}
    for field, value in pairs:
        node, _, day = field.rpartition("|")
        demand.setdefault(node, {})[int(day)] = int(value)
    return dict(sorted(demand.items()))


def _parse_nodes(pairs: list[tuple[str, str]]) -> dict[str, NodeStock]:
    """Node stock from a ledger hash's (field, value) pairs."""
    nodes: dict[str, dict[str, int]] = {}
    for field, value in pairs:
        node, _, kind = field.rpartition("|")
        if kind in _FIELDS:
            nodes.setdefault(node, {})[_FIELDS[kind]] = int(value)
    return {node: NodeStock(**values) for node, values in sorted(nodes.items())}
