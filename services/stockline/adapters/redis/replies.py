"""Reading what Redis answers: the apply script's replies and the ledger hashes, shared by
the store and the read side."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import msgpack

from stockline.domain.ledger import NodeStock, SkuTotals
from stockline.domain.signals import ReviewMark
from stockline.service_layer.ports import NodeState, SkuChange, SkuSnapshot


def script_reply(packed: bytes) -> list[Any]:
    """The apply script's reply: one MessagePack array, per SKU its answer (packed in the
    script: Redis turns a Lua table into a reply at a cost per entry)."""
    answers: list[Any] = msgpack.unpackb(packed)
    return answers


def change_of(
    sku: str,
    version: int,
    rows: list[Any],
    totals: list[Any],
    whole: list[Any],
    demand: list[Any],
    *,
    full: bool,
    latest_us: int = 0,
) -> SkuChange | None:
    """A SKU's change from its part of the apply script's reply, or None when the batch
    neither changed nor redelivered anything of it. The script packs numbers as integers,
    so they arrive as ints."""
    if not rows and not totals:
        return None
    nodes = []
    row = iter(rows)
    for name, new, atp, on_hand, reserved, held, inbound, buffer in zip(*[row] * 8, strict=True):
        stock = NodeStock(on_hand, reserved, inbound, held)
        nodes.append(NodeState(text(name), stock, buffer, atp, new == 1))
    nodes.sort(key=_node_id)
    snapshot = _full_snapshot(sku, version, whole, demand, latest_us) if full else None
    return SkuChange(sku, version, tuple(nodes), _totals(totals), snapshot)


def _node_id(state: NodeState) -> str:
    return state.node_id


def _totals(flat_totals: list[Any]) -> SkuTotals | None:
    """`['n', network, channel, atp, ...]` as the script sends it (empty: not included)."""
    if not flat_totals:
        return None
    cell = iter(flat_totals)
    found = {text(name): units for name, units in zip(cell, cell, strict=True)}
    network = found.pop("n")
    return SkuTotals(network, dict(sorted(found.items())))


def _full_snapshot(
    sku: str, version: int, whole: list[Any], demand: list[Any], latest_us: int
) -> SkuSnapshot:
    """Nine entries a node: node, on_hand, reserved, held, inbound, review day, covered and
    given (each -1 when unset), safety_stock or -1; three a demand bucket."""
    stock: dict[str, NodeStock] = {}
    reviews: dict[str, ReviewMark] = {}
    safety: dict[str, int] = {}
    row = iter(whole)
    for entry in zip(*[row] * 9, strict=True):
        name, on_hand, reserved, held, inbound, day, covered, given, units = entry
        node = text(name)
        stock[node] = NodeStock(on_hand, reserved, inbound, held)
        if day >= 0:
            reviews[node] = ReviewMark(day, max(0, covered), max(0, given))
        if units >= 0:
            safety[node] = units
    ordered = dict(sorted(stock.items()))
    return SkuSnapshot(sku, version, ordered, _demand(demand), reviews, safety, latest_us)


def _demand(demand: list[Any]) -> dict[str, dict[int, int]]:
    """Per node, units per day, from the script's three entries a bucket."""
    buckets: dict[str, dict[int, int]] = {}
    cell = iter(demand)
    for node, day, units in zip(cell, cell, cell, strict=True):
        buckets.setdefault(text(node), {})[day] = units
    return dict(sorted(buckets.items()))


def snapshot_from_hash(sku: str, fields: Sequence[Any]) -> SkuSnapshot | None:
    """A SKU's snapshot from its ledger hash as [field, value, ...]; None when empty. No
    demand: that lives in its own hash."""
    if not fields:
        return None
    version = latest = 0
    stock: dict[str, NodeStock] = {}
    marks: dict[str, dict[str, int]] = {}
    safety: dict[str, int] = {}
    for field, value in pairs(fields):
        if field in ("v", "e"):
            version, latest = (int(value), latest) if field == "v" else (version, int(value))
            continue
        node, _, mark = field.rpartition("|")
        if not node:
            continue  # the totals
        if not mark:
            on_hand, reserved, held, inbound = value.split("|", 4)[:4]
            stock[node] = NodeStock(int(on_hand), int(reserved), int(inbound), int(held))
        elif mark in ("rd", "cv", "gv"):
            marks.setdefault(node, {})[mark] = int(value)
        elif mark == "ss":
            safety[node] = int(value)
    reviews = {
        node: ReviewMark(m["rd"], m.get("cv", 0), m.get("gv", 0))
        for node, m in marks.items()
        if "rd" in m
    }
    ordered = dict(sorted(stock.items()))
    return SkuSnapshot(sku, version, ordered, {}, reviews, safety, latest)


def totals_from_packed(packed: Any) -> SkuTotals | None:
    """A SKU's totals from its ledger's `t` field, `<network>|<channel>=<atp>,...`."""
    if packed is None:
        return None
    network, _, rest = text(packed).partition("|")
    channels = {}
    for item in filter(None, rest.split(",")):
        channel, _, units = item.partition("=")
        channels[channel] = int(units)
    return SkuTotals(int(network), dict(sorted(channels.items())))


def parse_demand(fields: list[tuple[str, str]]) -> dict[str, dict[int, int]]:
    """Per node, units per day, from the demand hash's `<node>|<day>` fields."""
    demand: dict[str, dict[int, int]] = {}
    for field, value in fields:
        node, _, day = field.rpartition("|")
        demand.setdefault(node, {})[int(day)] = int(value)
    return dict(sorted(demand.items()))


def pairs(fields: Sequence[Any]) -> Iterator[tuple[str, str]]:
    """(field, value) text pairs of a hash given as [field, value, field, value, ...]."""
    for i in range(0, len(fields), 2):
        yield text(fields[i]), text(fields[i + 1])


def flat(reply: Any) -> list[Any]:
    """HGETALL as [field, value, ...], whether the client gave a dict or a list."""
    if isinstance(reply, dict):
        return [item for pair in reply.items() for item in pair]
    return list(reply)


def text(value: Any) -> str:
    """A reply as text, whether the client decodes replies or not."""
    return value.decode() if isinstance(value, bytes) else str(value)
