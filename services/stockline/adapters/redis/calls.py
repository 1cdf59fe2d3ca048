"""The apply script's arguments: one call per ledger shard, several SKUs in it (the
argument protocol is documented at the top of apply.lua)."""

from __future__ import annotations

from collections.abc import Callable

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
        payload: list[object] = [len(groups)]
        for sku, group in groups:
            self._sku(payload, sku, group, terms, key_index)
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
        sku: str,
        group: list[tuple[int, Delivery]],
        terms: NodeTerms,
        key_index: Callable[[str], int],
    ) -> None:
        """Appends [sku, ledger index, demand index, node count, (node, buffer, channels
        joined by ','), ..., event count, (event_id, topic|partition, offset, occurred_us,
        effect count, effect...), ...]."""
        keys = self._keys.of_sku(sku)
        nodes: dict[str, tuple[str, int, str]] = {}
        events: list[object] = []
        for _, d in group:
            effects = effects_of(d.event)
            event = d.event
            events += [event.event_id, f"{d.topic}|{d.partition}", d.offset, event.occurred_us]
            events.append(len(effects))
            for effect in effects:
                node = effect.node_id
                if node not in nodes:
                    channels = ",".join(sorted(terms.channels_of(node)))
                    nodes[node] = (node, terms.buffer(node, sku), channels)
                events += _effect_args(keys, effect, key_index)
        payload += [sku, key_index(keys.ledger), key_index(keys.demand), len(nodes)]
        for term in nodes.values():
            payload += term
        payload.append(len(group))
        payload += events


def _effect_args(keys: SkuKeys, effect: Effect, key_index: Callable[[str], int]) -> list[str | int]:
    """[kind, node_id, key index, a, b, c] (a hold adds its reservation_id)."""
    node = effect.node_id
    match effect:
        case Delta(occurred_us=at, qty=qty):
            return ["D", node, key_index(keys.deltas(node)), at, qty, 0]
        case Count(occurred_us=at, counted_qty=counted):
            return ["C", node, key_index(keys.deltas(node)), at, counted, 0]
        case LineChange(order_id=order_id, placed=placed, picked=picked, cancelled=cancelled):
            key = key_index(keys.line(node, order_id))
            return ["L", node, key, placed, picked, int(cancelled)]
        case SupplyChange(supply_id=supply_id, expected=expected, received=received):
            key = key_index(keys.supply(node, supply_id))
            return ["S", node, key, expected, received, 0]
        case HoldChange(reservation_id=rid, placed=placed, expires_us=expires, ended=ended):
            key = key_index(keys.hold(node, rid))
            return ["H", node, key, placed, expires, int(ended), rid]
        case Demand(day=day, units=units):
            return ["Q", node, key_index(keys.demand), day, units, 0]
    raise TypeError(f"unknown effect {effect!r}")
