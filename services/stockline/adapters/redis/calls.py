"""The apply script's arguments: one call per ledger shard, several SKUs in it (the
argument protocol is documented at the top of apply.lua)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgpack

from stockline.adapters.redis.keys import Keys, SkuKeys
from stockline.domain.effects import (
    Count,
    Delta,
    Demand,
    Effect,
    HoldChange,
    LineChange,
    SupplyChange,
    effects_of,
)
from stockline.service_layer.ports import Delivery, HoldRequest, NodeTerms

Group = tuple[str, list[tuple[int, Delivery]]]
"""A SKU and its deliveries in arrival order, with their indexes in the batch."""
Call = tuple[list[str], list[str | int | bytes]]
"""KEYS and ARGV of one script call."""


class CallEncoder:
    """Builds the KEYS and ARGV of one shard's call."""

    def __init__(self, keys: Keys, retention_us: int, demand_days: int) -> None:
        self._keys = keys
        self._retention_us = retention_us
        self._demand_days = demand_days

    def encode(
        self, shard: int, groups: list[Group], now_us: int, terms: NodeTerms, flags: str
    ) -> Call:
        """One call for the SKUs of `shard` (the caller grouped them)."""
        names, key_index = self._names(shard)
        tag = self._keys.shard_tag(shard)
        served: dict[str, str] = {}  # per node, its channels joined (the same for every SKU)
        payload: list[object] = [len(groups)]
        for sku, group in groups:
            self._sku(payload, SkuKeys(tag, sku), group, terms, served, key_index)
        return names, self._args(now_us, flags, payload)

    def encode_hold(self, shard: int, sku: str, request: HoldRequest, now_us: int) -> Call:
        """A hold decision (flag 'h'): one event, one hold effect per candidate in order."""
        names, key_index = self._names(shard)
        keys = self._keys.of_sku(sku)
        rid, qty, expires = request.reservation_id, request.qty, request.expires_us
        payload: list[object] = [1, sku, key_index(keys.ledger), key_index(keys.demand), 0, 1]
        payload += [request.event_id, "-|0", 0, request.occurred_us, len(request.candidates)]
        for node in request.candidates:
            payload += _effect_args(keys, HoldChange(node, rid, qty, expires), key_index)
        return names, self._args(now_us, "h", payload)

    def _names(self, shard: int) -> tuple[list[str], Callable[[str], int]]:
        """The shard's own keys, and a function that lists a key once and gives its index."""
        k = self._keys
        names = [k.seen(shard), k.offsets(shard), k.holds(shard)]
        index: dict[str, int] = {}

        def key_index(key: str) -> int:
            found = index.get(key)
            if found is None:
                names.append(key)
                found = index[key] = len(names)  # Lua's KEYS is 1-based
            return found

        return names, key_index

    def _args(self, now_us: int, flags: str, flat: list[object]) -> list[str | int | bytes]:
        # one packed argument: redis-py encodes each argument in Python, msgpack in C; one
        # flat array, as the script unpacks nested arrays at a cost per table
        payload: bytes = msgpack.packb(flat)
        return [now_us, self._retention_us, self._demand_days, flags, payload]

    def _sku(
        self,
        payload: list[object],
        keys: SkuKeys,
        group: list[tuple[int, Delivery]],
        terms: NodeTerms,
        served: dict[str, str],
        key_index: Callable[[str], int],
    ) -> None:
        """Appends [sku, ledger index, demand index, node count, (node, buffer, channels
        joined by ','), ..., event count, (event_id, topic|partition, offset, occurred_us,
        effect count, effect...), ...]."""
        sku = keys.sku
        nodes: dict[str, tuple[str, int, str]] = {}
        events: list[object] = []
        for _, d in group:
            effects = effects_of(d.event)
            event = d.event
            events += (event.event_id, f"{d.topic}|{d.partition}", d.offset, event.occurred_us)
            events.append(len(effects))
            for effect in effects:
                node = effect.node_id
                if node not in nodes:
                    channels = served.get(node)
                    if channels is None:
                        channels = served[node] = ",".join(sorted(terms.channels_of(node)))
                    nodes[node] = (node, terms.buffer(node, sku), channels)
                events += _effect_args(keys, effect, key_index)
        payload += (sku, key_index(keys.ledger), key_index(keys.demand), len(nodes))
        for term in nodes.values():
            payload += term
        payload.append(len(group))
        payload += events


KeyIndex = Callable[[str], int]


def _delta(keys: SkuKeys, e: Delta, key_index: KeyIndex) -> tuple[str | int, ...]:
    return ("D", e.node_id, key_index(keys.deltas(e.node_id)), e.occurred_us, e.qty, 0)


def _count(keys: SkuKeys, e: Count, key_index: KeyIndex) -> tuple[str | int, ...]:
    return ("C", e.node_id, key_index(keys.deltas(e.node_id)), e.occurred_us, e.counted_qty, 0)


def _line(keys: SkuKeys, e: LineChange, key_index: KeyIndex) -> tuple[str | int, ...]:
    key = key_index(keys.line(e.node_id, e.order_id))
    return ("L", e.node_id, key, e.placed, e.picked, int(e.cancelled))


def _supply(keys: SkuKeys, e: SupplyChange, key_index: KeyIndex) -> tuple[str | int, ...]:
    key = key_index(keys.supply(e.node_id, e.supply_id))
    return ("S", e.node_id, key, e.expected, e.received, 0)


def _hold(keys: SkuKeys, e: HoldChange, key_index: KeyIndex) -> tuple[str | int, ...]:
    key = key_index(keys.hold(e.node_id, e.reservation_id))
    return ("H", e.node_id, key, e.placed, e.expires_us, int(e.ended), e.reservation_id)


def _demand(keys: SkuKeys, e: Demand, key_index: KeyIndex) -> tuple[str | int, ...]:
    return ("Q", e.node_id, key_index(keys.demand), e.day, e.units, 0)


_ENCODE: dict[type, Callable[[SkuKeys, Any, KeyIndex], tuple[str | int, ...]]] = {
    Delta: _delta,
    Count: _count,
    LineChange: _line,
    SupplyChange: _supply,
    HoldChange: _hold,
    Demand: _demand,
}
"""Per effect type: [kind, node_id, key index, a, b, c] (a hold adds its reservation_id)."""


def _effect_args(keys: SkuKeys, effect: Effect, key_index: KeyIndex) -> tuple[str | int, ...]:
    encode = _ENCODE.get(type(effect))
    if encode is None:
        raise TypeError(f"unknown effect {effect!r}")
    return encode(keys, effect, key_index)
