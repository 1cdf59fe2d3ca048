"""The ledger in Redis: one atomic script call per ledger shard per batch, all pipelined."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from importlib import resources
from typing import Any

from redis.asyncio import Redis, RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from stockline.adapters.redis.calls import CallEncoder, Group
from stockline.adapters.redis.keys import Keys
from stockline.adapters.redis.losses import LossCheck, split_marks
from stockline.adapters.redis.replies import (
    change_of,
    flat,
    pairs,
    parse_demand,
    script_reply,
    snapshot_from_hash,
    text,
    totals_from_packed,
)
from stockline.adapters.redis.transport import Command, transport_for
from stockline.domain.events import InventoryEvent
from stockline.domain.ledger import Outcome, SkuTotals
from stockline.service_layer.ports import (
    NO_TERMS,
    ApplyResult,
    Delivery,
    DueHold,
    HoldDecision,
    HoldRequest,
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
    """A LedgerStore on Redis >= 7.0, a single node or a Cluster (every call stays in one
    slot; `transport.py` says how each is reached). Before anything goes out on a new
    connection it checks that Redis still has what this process wrote (`losses.py`)."""

    def __init__(
        self,
        redis: Redis | RedisCluster,
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
        self._transport = transport_for(redis)
        self._per_shard = self._transport.independent_nodes
        self._with_demand = with_demand
        self._losses = LossCheck(keys, self._unchecked, per_shard=self._per_shard)
        self._unrecorded = False  # a batch was applied and its progress is not recorded yet
        self._on_round_trip = on_round_trip
        self._keys = keys
        self._encoder = CallEncoder(keys, retention_us, demand_days)
        self._apply_src = _script("apply.lua")
        self._watermark_src = _script("watermarks.lua")

    async def load_scripts(self) -> None:
        """Load the scripts into every primary's cache now (a node that lost them gets them
        again on its first NOSCRIPT anyway)."""
        for src in (self._apply_src, self._watermark_src):
            await self._transport.load(src)

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
        by_shard = self._by_shard(deliveries)
        shard_of, shards = list(by_shard), list(by_shard.values())
        flags = ("f" + ("d" if self._with_demand else "")) if full else ""
        flags += "a" if republish else ""
        calls = [
            self._encoder.encode(shard, groups, now_us, terms, flags)
            for shard, groups in by_shard.items()
        ]
        reached = [_highest(groups) for groups in shards]  # what each shard has once it answers
        outcomes = [Outcome.APPLIED] * len(deliveries)
        changes: dict[int, list[SkuChange]] = {}  # by call, so a re-run overwrites
        negative: dict[int, int] = {}

        def take(call: int, reply: Any) -> None:
            found: list[SkuChange] = []
            negative[call] = 0
            for (sku, group), answer in zip(shards[call], script_reply(reply), strict=True):
                version, letters, went_negative, rows, totals, whole, demand, latest = answer
                for (index, _), letter in zip(group, text(letters), strict=True):
                    outcomes[index] = _OUTCOMES[letter]
                negative[call] += went_negative
                change = change_of(
                    sku, version, rows, totals, whole, demand, full=full, latest_us=latest
                )
                if change is not None:
                    found.append(change)
                    on_change(change)
            changes[call] = found
            self._losses.reached(shard_of[call], reached[call])

        await self._run(self._apply_src, calls, on_reply=take, raw=True)
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
        recorded = self._losses.take_unrecorded()
        for shard, reached in recorded.items():  # empty unless per shard (a Cluster)
            for field, offset in reached.items():
                args += [f"{shard}@{field}", offset]
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
            try:
                await self._run(self._watermark_src, calls, extra, after_apply=self._unrecorded)
            except BaseException:
                self._losses.give_back(recorded)  # recorded with the batch's retry
                raise
        self._unrecorded = False
        self._losses.wrote(offsets)

    async def watermarks(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        """Per partition, the offset up to which the ledger holds everything; on a Cluster
        lowered to where a shard that lost its tail still is."""
        if not partitions:
            return {}
        fields = [f"{topic}|{partition}" for topic, partition in partitions]
        key = self._keys.watermarks()
        if not self._per_shard:
            values = await self._redis.hmget(key, fields)
            return {tp: int(v) for tp, v in zip(partitions, values, strict=True) if v is not None}
        (stored,) = await self._round_trip([("HGETALL", key)])
        marks, expected = split_marks(flat(stored), set(fields))
        lost = await self._losses.shards_lost(expected)
        out = {}
        for tp, field in zip(partitions, fields, strict=True):
            if field in marks:
                out[tp] = min(marks[field], lost.get(tp, marks[field]))
        return out

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

    async def hold(self, sku: str, request: HoldRequest, now_us: int) -> HoldDecision:
        """One script call (flag 'h') on the SKU's shard."""
        call = self._encoder.encode_hold(self._keys.shard(sku), sku, request, now_us)
        (reply,) = await self._run(self._apply_src, [call], raw=True)
        (answer,) = script_reply(reply)
        letters, node, atps = text(answer[1]), text(answer[8]), answer[9]
        atp = {n: int(units) for n, units in zip(request.candidates, atps, strict=False)}
        placed = request.placed_at(sku, node) if node else None
        return HoldDecision(placed, atp, replayed=letters == "d")

    async def pre_apply(self, events: Sequence[InventoryEvent], now_us: int) -> list[Outcome]:
        """One script call (flag 'p') per shard, in one round trip."""
        deliveries = [Delivery(event, "-", 0, 0) for event in events]
        by_shard = self._by_shard(deliveries)
        calls = [
            self._encoder.encode(shard, groups, now_us, NO_TERMS, "p")
            for shard, groups in by_shard.items()
        ]
        outcomes = [Outcome.APPLIED] * len(deliveries)
        replies = await self._run(self._apply_src, calls, raw=True)
        for groups, reply in zip(by_shard.values(), replies, strict=True):
            for (_, group), answer in zip(groups, script_reply(reply), strict=True):
                for (index, _), letter in zip(group, text(answer[1]), strict=True):
                    outcomes[index] = _OUTCOMES[letter]
        return outcomes

    def _by_shard(self, deliveries: Sequence[Delivery]) -> dict[int, list[Group]]:
        """The deliveries grouped per SKU, and the SKUs per ledger shard: one call each."""
        by_shard: dict[int, list[Group]] = {}
        for sku, group in group_by_sku(deliveries):
            by_shard.setdefault(self._keys.shard(sku), []).append((sku, group))
        return by_shard

    async def due_holds(self, now_us: int, limit: int = 1000) -> list[DueHold]:
        """Every shard's holds zset read up to `now_us`, in one round trip."""
        commands: list[Command] = [
            (
                "ZRANGE",
                self._keys.holds(shard),
                "-inf",
                now_us,
                "BYSCORE",
                "LIMIT",
                0,
                limit,
                "WITHSCORES",
            )
            for shard in range(self._keys.shards)
        ]
        due: list[DueHold] = []
        for reply in await self._round_trip(commands):
            if isinstance(reply, ResponseError):
                raise reply
            for member, score in _scored(reply):
                sku, node, rid = member.split("|", 2)
                due.append(DueHold(sku, node, rid, score))
        due.sort(key=lambda d: (d.expires_us, d.sku, d.node_id, d.reservation_id))
        return due[:limit]

    async def _run(
        self,
        src: str,
        calls: list[tuple[list[str], list[str | int | bytes]]],
        extra: Sequence[Command] = (),
        on_reply: Callable[[int, Any], None] = lambda _n, _reply: None,
        *,
        after_apply: bool = False,
        raw: bool = False,
    ) -> list[Any]:
        """EVALSHA every call in one round trip, followed by the `extra` commands (a node
        that lost the script gets it again and re-runs only its calls: safe, applied offsets
        come back redelivered). `on_reply(n, reply)` sees each call's reply that is not an
        error as it is read. Returns the calls' replies."""
        sha = self._transport.sha(src)
        commands = [("EVALSHA", sha, len(keys), *keys, *args) for keys, args in calls]
        replies = await self._round_trip(
            [*commands, *extra], on_reply, len(calls), after_apply=after_apply, raw=raw
        )
        errors = [r for r in replies if isinstance(r, ResponseError)]
        if errors:
            raise errors[0]
        return replies[: len(calls)]

    async def _round_trip(
        self,
        commands: Sequence[Command],
        on_reply: Callable[[int, Any], None] = lambda _n, _reply: None,
        watched: int = 0,
        *,
        after_apply: bool = False,
        check: bool = True,
        raw: bool = False,
    ) -> list[Any]:
        """Send every command at once and read every reply (an error reply comes back as
        its exception, in place), handing each of the first `watched` replies that is not
        an error to `on_reply` as soon as it is read. Before anything goes out on a new
        connection, check that Redis still has what this process wrote; with `after_apply`
        (progress of a batch applied over an earlier connection), a new connection to a
        single Redis then raises ReconnectedMidBatch instead of sending. `check=False`: the
        check's own reads. `raw`: replies as bytes (the apply script packs its own)."""
        if not check:
            return await self._unchecked(commands, on_reply, watched)
        self._on_round_trip()

        async def fresh() -> None:
            await self._losses.check()
            # per shard, the check has just seen the batch's applies where they must be
            if after_apply and not self._per_shard:
                raise ReconnectedMidBatch("Redis reconnected since the batch was applied")

        return await self._transport.round_trip(commands, on_reply, watched, fresh, raw=raw)

    async def _unchecked(
        self,
        commands: Sequence[Command],
        on_reply: Callable[[int, Any], None] = lambda _n, _reply: None,
        watched: int = 0,
    ) -> list[Any]:
        """A round trip without the check (the check's own reads)."""
        return await self._transport.round_trip(commands, on_reply, watched, None)


def _highest(groups: list[Group]) -> dict[str, int]:
    """Per `topic|partition`, the highest offset among a call's deliveries."""
    out: dict[str, int] = {}
    for _, group in groups:
        for _, d in group:
            field = f"{d.topic}|{d.partition}"
            if d.offset > out.get(field, -1):
                out[field] = d.offset
    return out


def _scored(reply: Any) -> list[tuple[str, int]]:
    """A sorted set read WITHSCORES, as (member, integer score), whether the client gave
    pairs or a flat list."""
    items = list(reply)
    if items and isinstance(items[0], list | tuple):
        return [(text(member), int(float(score))) for member, score in items]
    return [(member, int(float(score))) for member, score in pairs(items)]


def _mark_fields(mark: PlanMarks) -> dict[str, str]:
    fields: dict[str, str] = {}
    for node, review in mark.reviews.items():
        fields[f"{node}|rd"] = str(review.day)
        fields[f"{node}|cv"] = str(review.covered)
        fields[f"{node}|gv"] = str(review.given)
    fields.update({f"{node}|ss": str(units) for node, units in mark.safety_stock.items()})
    return fields
