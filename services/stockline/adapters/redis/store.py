"""The ledger in Redis: one atomic script call per SKU per batch, all in one pipeline."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from importlib import resources
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

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
    PlanMarks,
    SkuSnapshot,
    TopicPartition,
    group_by_sku,
)

_OUTCOMES = {"a": Outcome.APPLIED, "d": Outcome.DUPLICATE, "r": Outcome.REDELIVERED}
_FIELDS = {"oh": "on_hand", "rs": "reserved", "ib": "inbound"}


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
    ) -> None:
        self._redis = redis
        self._on_round_trip = on_round_trip
        self._keys = keys
        self._retention_us = retention_us
        self._demand_days = demand_days
        self._apply_src = _script("apply.lua")
        self._watermark_src = _script("watermarks.lua")
        self._shas: dict[str, str] = {}

    async def load_scripts(self) -> None:
        """Load the scripts into Redis' cache (again after a Redis restart)."""
        for src in (self._apply_src, self._watermark_src):
            self._shas[src] = await self._redis.script_load(src)

    async def apply(self, deliveries: Sequence[Delivery], now_us: int) -> ApplyResult:
        groups = group_by_sku(deliveries)
        calls = [self._encode(sku, [d for _, d in group], now_us) for sku, group in groups]
        replies = await self._run(self._apply_src, calls)
        result = ApplyResult(outcomes=[Outcome.APPLIED] * len(deliveries))
        for (sku, group), reply in zip(groups, replies, strict=True):
            version, letters, went_negative, flat = reply
            for (index, _), letter in zip(group, letters, strict=True):
                result.outcomes[index] = _OUTCOMES[letter]
            result.went_negative += int(went_negative)
            if flat:
                result.snapshots.append(_snapshot(sku, int(version), flat))
        return result

    async def record_progress(
        self,
        offsets: Mapping[TopicPartition, int],
        snapshots: Sequence[SkuSnapshot] = (),
        marks: Sequence[PlanMarks] = (),
    ) -> None:
        """One round trip: the watermark script, the node index additions and the planning
        marks (`<node>|ar` armed, `<node>|ss` safety stock in the SKU's ledger hash)."""
        args: list[str | int] = []
        for (topic, partition), offset in sorted(offsets.items()):
            args += [f"{topic}|{partition}", offset]
        by_node = _skus_by_node(snapshots)

        def index_nodes(pipe: Any) -> None:
            for node_id, skus in by_node.items():
                pipe.zadd(self._keys.node_skus(node_id), dict.fromkeys(skus, 0), nx=True)
            for mark in marks:
                if fields := _mark_fields(mark):
                    pipe.hset(self._keys.ledger(mark.sku), mapping=fields)

        calls = [([self._keys.watermarks()], args)] if args else []
        if calls or by_node or marks:
            await self._run(self._watermark_src, calls, then=index_nodes)

    async def watermarks(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        if not partitions:
            return {}
        fields = [f"{topic}|{partition}" for topic, partition in partitions]
        values = await self._redis.hmget(self._keys.watermarks(), fields)
        return {tp: int(v) for tp, v in zip(partitions, values, strict=True) if v is not None}

    async def snapshot(self, sku: str) -> SkuSnapshot | None:
        found: dict[Any, Any] = await self._redis.hgetall(self._keys.ledger(sku))
        return snapshot_from_hash(sku, [item for pair in found.items() for item in pair])

    async def _run(
        self,
        src: str,
        calls: list[tuple[list[str], list[str | int]]],
        then: Callable[[Any], None] | None = None,
    ) -> list[Any]:
        """EVALSHA every call in one round trip, followed by what `then` queues on the same
        pipeline; reload the scripts once if Redis lost them."""
        for attempt in (1, 2):
            if src not in self._shas:
                await self.load_scripts()
            pipe = self._redis.pipeline(transaction=False)
            for keys, args in calls:
                pipe.evalsha(self._shas[src], len(keys), *keys, *args)
            if then is not None:
                then(pipe)
            self._on_round_trip()
            try:
                return list(await pipe.execute())[: len(calls)]
            except NoScriptError:
                if attempt == 2:
                    raise
                self._shas.clear()  # re-running is safe: applied offsets come back redelivered
        raise AssertionError("unreachable")

    def _encode(
        self, sku: str, deliveries: list[Delivery], now_us: int
    ) -> tuple[list[str], list[str | int]]:
        keys = [self._keys.ledger(sku), self._keys.seen(sku), self._keys.offsets(sku)]
        index = {key: n for n, key in enumerate(keys, start=1)}

        def key_index(key: str) -> int:
            if key not in index:
                keys.append(key)
                index[key] = len(keys)  # Lua's KEYS is 1-based
            return index[key]

        args: list[str | int] = [now_us, self._retention_us, self._demand_days, len(deliveries)]
        for d in deliveries:
            effects = effects_of(d.event)
            args += [d.event.event_id, f"{d.topic}|{d.partition}", d.offset, len(effects)]
            for effect in effects:
                args += self._effect_args(sku, effect, key_index)
        return keys, args

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
                return ["Q", node, key_index(self._keys.ledger(sku)), day, units, 0]
        raise TypeError(f"unknown effect {effect!r}")


def _skus_by_node(snapshots: Sequence[SkuSnapshot]) -> dict[str, list[str]]:
    by_node: dict[str, list[str]] = {}
    for snapshot in snapshots:
        for node_id in snapshot.nodes:
            by_node.setdefault(node_id, []).append(snapshot.sku)
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
    pairs = list(_pairs(flat))
    armed = {field[:-3]: value == "1" for field, value in pairs if field.endswith("|ar")}
    safety = {field[:-3]: int(value) for field, value in pairs if field.endswith("|ss")}
    return SkuSnapshot(sku, version, _parse_nodes(pairs), _parse_demand(pairs), armed, safety)


def _pairs(flat: Sequence[Any]) -> Iterator[tuple[str, str]]:
    """(field, value) text pairs of a hash given as [field, value, field, value, ...]."""
    for i in range(0, len(flat), 2):
        field, value = flat[i], flat[i + 1]
        yield (
            field.decode() if isinstance(field, bytes) else str(field),
            value.decode() if isinstance(value, bytes) else str(value),
        )


def _parse_demand(pairs: list[tuple[str, str]]) -> dict[str, dict[int, int]]:
    """Per node, units per day, from the ledger hash's `<node>|d|<day>` fields."""
    demand: dict[str, dict[int, int]] = {}
    for field, value in pairs:
        node, marker, day = field.partition("|d|")
        if marker:
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
