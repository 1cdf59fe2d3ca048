"""The ledger in Redis: one atomic script call per ledger shard per batch, all pipelined."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from importlib import resources
from typing import Any

from hiredis import pack_command
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError

from stockline.adapters.redis.calls import CallEncoder, Group
from stockline.adapters.redis.keys import Keys
from stockline.adapters.redis.replies import (
    change_of,
    flat,
    pairs,
    parse_demand,
    snapshot_from_hash,
    totals_from_packed,
)
from stockline.domain.ledger import Outcome, SkuTotals
from stockline.service_layer.ports import (
    NO_TERMS,
    ApplyResult,
    Delivery,
    LedgerRolledBack,
    NodeTerms,
    PlanMarks,
    SkuChange,
    SkuSnapshot,
    TopicPartition,
    group_by_sku,
)

_OUTCOMES = {"a": Outcome.APPLIED, "d": Outcome.DUPLICATE, "r": Outcome.REDELIVERED}


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
    ) -> None:
        """`with_demand`: with a full snapshot (planning), also return the SKU's daily
        demand buckets."""
        self._redis = redis
        self._with_demand = with_demand
        self._written: dict[str, int] = {}  # watermark fields this process raised, and to what
        self._reconnected = False
        self._unrecorded = False  # a batch was applied and its progress is not recorded yet
        redis.connection_pool.connection_kwargs["redis_connect_func"] = self._connected
        self._on_round_trip = on_round_trip
        self._keys = keys
        self._encoder = CallEncoder(keys, retention_us, demand_days)
        self._apply_src = _script("apply.lua")
        self._watermark_src = _script("watermarks.lua")
        self._shas: dict[str, str] = {}

    async def _connected(self, conn: Any) -> None:
        """Every new connection: after a Redis restart or failover, the next round trip first
        checks that Redis still has what this process wrote."""
        await conn.on_connect()
        self._reconnected = True

    async def load_scripts(self) -> None:
        """Load the scripts into Redis' cache (again after a Redis restart)."""
        for src in (self._apply_src, self._watermark_src):
            self._shas[src] = await self._redis.script_load(src)

    async def apply(
        self,
        deliveries: Sequence[Delivery],
        now_us: int,
        terms: NodeTerms = NO_TERMS,
        on_change: Callable[[SkuChange], None] = lambda _: None,
        *,
        full: bool = False,
        republish: bool = False,
    ) -> ApplyResult:
        """One script call per shard, all in one round trip; each reply is turned into
        outcomes and changes as it arrives, so the caller's `on_change` work runs while
        Redis is still executing the calls behind it."""
        by_shard: dict[int, list[Group]] = {}
        for sku, group in group_by_sku(deliveries):
            by_shard.setdefault(self._keys.shard(sku), []).append((sku, group))
        shards = list(by_shard.values())
        flags = ("f" + ("d" if self._with_demand else "")) if full else ""
        flags += "a" if republish else ""
        calls = [self._encoder.encode(groups, now_us, terms, flags) for groups in shards]
        outcomes = [Outcome.APPLIED] * len(deliveries)
        changes: dict[int, list[SkuChange]] = {}  # by call, so a re-run overwrites
        negative: dict[int, int] = {}

        def take(call: int, reply: Any) -> None:
            found: list[SkuChange] = []
            negative[call] = 0
            for (sku, group), answer in zip(shards[call], reply, strict=True):
                version, letters, went_negative, rows, totals, whole, demand, latest = answer
                for (index, _), letter in zip(group, _text(letters), strict=True):
                    outcomes[index] = _OUTCOMES[letter]
                negative[call] += went_negative
                change = change_of(
                    sku, version, rows, totals, whole, demand, full=full, latest_us=latest
                )
                if change is not None:
                    found.append(change)
                    on_change(change)
            changes[call] = found

        await self._run(self._apply_src, calls, on_reply=take)
        self._unrecorded = True
        ordered = [change for call in sorted(changes) for change in changes[call]]
        return ApplyResult(outcomes, ordered, sum(negative.values()))

    async def record_progress(
        self,
        offsets: Mapping[TopicPartition, int],
        indexed: Sequence[tuple[str, str]] = (),
        marks: Sequence[PlanMarks] = (),
    ) -> None:
        """One round trip: the watermark script, the node index additions and the planning
        marks (in the SKU's ledger hash: `<node>|rd` review day, `<node>|cv` units that
        day's signals covered, `<node>|gv` units its rebalances gave, `<node>|ss` safety
        stock)."""
        args: list[str | int | bytes] = []
        for (topic, partition), offset in sorted(offsets.items()):
            args += [f"{topic}|{partition}", offset]
        extra: list[tuple[str | int | bytes, ...]] = []
        by_node: dict[str, list[str]] = {}
        for sku, node_id in indexed:
            by_node.setdefault(node_id, []).append(sku)
        for node_id, skus in by_node.items():
            members = [item for sku in skus for item in (0, sku)]
            extra.append(("ZADD", self._keys.node_skus(node_id), "NX", *members))
        for mark in marks:
            fields = _mark_fields(mark)
            if fields:
                flat_fields = [item for pair in fields.items() for item in pair]
                extra.append(("HSET", self._keys.ledger(mark.sku), *flat_fields))
        calls = [([self._keys.watermarks()], args)] if args else []
        if calls or extra:
            await self._run(self._watermark_src, calls, extra, after_apply=self._unrecorded)
        self._unrecorded = False
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
        snapshot = snapshot_from_hash(sku, flat(ledger))
        if snapshot is None:
            return None
        return replace(snapshot, demand=parse_demand(list(pairs(flat(demand)))))

    async def totals(self, sku: str) -> SkuTotals | None:
        (stored,) = await self._round_trip([("HGET", self._keys.ledger(sku), "t")])
        return totals_from_packed(stored)

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
        stored = await conn.read_response()
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


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _mark_fields(mark: PlanMarks) -> dict[str, str]:
    fields: dict[str, str] = {}
    for node, review in mark.reviews.items():
        fields[f"{node}|rd"] = str(review.day)
        fields[f"{node}|cv"] = str(review.covered)
        fields[f"{node}|gv"] = str(review.given)
    fields.update({f"{node}|ss": str(units) for node, units in mark.safety_stock.items()})
    return fields
