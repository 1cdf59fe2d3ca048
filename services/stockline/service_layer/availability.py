"""Read-side use cases of the HTTP API: availability of SKUs and a node's stock, over a
read port of the ledger and a view of the network. Nothing here writes stock.

ATP follows DESIGN.md section 3: a node's `atp = max(0, on_hand - reserved - held - buffer)`,
network ATP is the sum over nodes, a channel's ATP the sum over the nodes serving it. The
planning level `safety_stock` is shown per node, not subtracted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from stockline.contracts.api import BatchAvailability, NodeStockItem, NodeStockPage
from stockline.contracts.outbound import AtpMessage, NodeAtp, as_of
from stockline.domain.ledger import NodeStock, sku_totals
from stockline.service_layer.ports import NodeTerms, SkuSnapshot


class LedgerReader(Protocol):
    """Read-only access to the ledger the workers write."""

    async def snapshots(self, skus: Sequence[str]) -> list[SkuSnapshot | None]:
        """Each SKU's current stock, in the order asked (None: no event touched it),
        read in one round trip."""
        ...

    async def node_skus(self, node_id: str, *, after: str | None, limit: int) -> list[str]:
        """Up to `limit` SKUs held at the node, in SKU order, all greater than `after`."""
        ...

    async def ping(self) -> bool:
        """True when the ledger answers; never raises."""
        ...


class NetworkView(NodeTerms, Protocol):
    """What the network file says about nodes: the terms the ledger step reads (buffer,
    channels) and the policy's own safety stock; answers must be cheap (called per node)."""

    def safety_stock(self, node_id: str, sku: str) -> int:
        """The policy's own safety stock of the SKU at the node (0 without a policy)."""
        ...


def now_us() -> int:
    return time.time_ns() // 1000


@dataclass(frozen=True, slots=True)
class NodeFilter:
    """Which nodes count in an answer: all, some by id, and/or those serving a channel."""

    nodes: frozenset[str] | None = None
    channel: str | None = None

    def keeps(self, node_id: str, network: NetworkView) -> bool:
        if self.nodes is not None and node_id not in self.nodes:
            return False
        return self.channel is None or self.channel in network.channels_of(node_id)


EVERY_NODE = NodeFilter()


def node_atp(stock: NodeStock, buffer: int, safety_stock: int) -> NodeAtp:
    # built from the ledger's integers, so validating them again is pure cost
    return NodeAtp.model_construct(None, **_node_fields(stock, buffer, safety_stock))


def _node_fields(stock: NodeStock, buffer: int, safety_stock: int) -> dict[str, int]:
    """One node's fields in the API's per-SKU view, in the model's order."""
    return {
        "atp": stock.atp(buffer),
        "on_hand": stock.on_hand,
        "reserved": stock.reserved,
        "held": stock.held,
        "inbound": stock.inbound,
        "buffer": buffer,
        "safety_stock": safety_stock,
    }


def safety_stock(snapshot: SkuSnapshot, node_id: str, network: NetworkView) -> int:
    """What planning last set for the node (it follows demand), else the policy's own."""
    stored = snapshot.safety_stock.get(node_id)
    return stored if stored is not None else network.safety_stock(node_id, snapshot.sku)


def atp_message(
    snapshot: SkuSnapshot, network: NetworkView, at_us: int, where: NodeFilter = EVERY_NODE
) -> AtpMessage:
    """The API's view of a snapshot, counting only the nodes `where` keeps."""
    fields = _view_fields(snapshot, network, at_us, where)
    nodes = {n: NodeAtp.model_construct(None, **node) for n, node in fields["nodes"].items()}
    return AtpMessage.model_construct(**(fields | {"nodes": nodes}))


def atp_json(snapshot: SkuSnapshot, network: NetworkView, at_us: int) -> bytes:
    """`atp_message(snapshot, network, at_us).to_bytes()` (compact UTF-8 JSON, same fields in
    the same order) without building the models: ~20 us where the models cost ~100 us for
    a 20-node SKU."""
    return orjson.dumps(_view_fields(snapshot, network, at_us, EVERY_NODE))


def _view_fields(
    snapshot: SkuSnapshot, network: NetworkView, at_us: int, where: NodeFilter
) -> dict[str, Any]:
    """The API's per-SKU view as plain data, in the model's field order."""
    sku = snapshot.sku
    nodes = {
        node_id: _node_fields(
            stock, network.buffer(node_id, sku), safety_stock(snapshot, node_id, network)
        )
        for node_id, stock in snapshot.nodes.items()
        if where.keeps(node_id, network)
    }
    totals = sku_totals({n: node["atp"] for n, node in nodes.items()}, network.channels_of)
    channels = dict(totals.channels)
    if where.channel is not None:
        channels = {where.channel: channels.get(where.channel, 0)}
    return {
        "sku": sku,
        "version": snapshot.version,
        "as_of": as_of(at_us),
        "network_atp": totals.network_atp,
        "nodes": nodes,
        "channels": channels,
    }


@dataclass
class Availability:
    """The queries storefronts and operators run; `as_of` is the time of the read."""

    reader: LedgerReader
    network: NetworkView
    clock: Callable[[], int] = now_us

    async def of_sku(self, sku: str) -> AtpMessage | None:
        """The SKU's availability, or None when no event ever touched it."""
        (snapshot,) = await self.reader.snapshots([sku])
        return None if snapshot is None else atp_message(snapshot, self.network, self.clock())

    async def of_skus(self, skus: Iterable[str], where: NodeFilter) -> BatchAvailability:
        """Many SKUs in one ledger round trip; repeated SKUs are answered once."""
        unique = list(dict.fromkeys(skus))
        snapshots = await self.reader.snapshots(unique)
        at = self.clock()
        return BatchAvailability(
            items=[atp_message(s, self.network, at, where) for s in snapshots if s is not None],
            not_found=[sku for sku, s in zip(unique, snapshots, strict=True) if s is None],
        )

    async def node_stock(
        self, node_id: str, *, cursor: str | None, limit: int
    ) -> NodeStockPage | None:
        """A page of the node's stock after `cursor` (a SKU); None when the node holds no
        SKU at all, so an unknown node is told apart from a page past the end."""
        skus = await self.reader.node_skus(node_id, after=cursor, limit=limit + 1)
        if not skus and cursor is None:
            return None
        page = skus[:limit]
        snapshots = await self.reader.snapshots(page)
        items = [self._item(node_id, s) for s in snapshots if s and node_id in s.nodes]
        next_cursor = page[-1] if len(skus) > limit else None
        return NodeStockPage(node_id=node_id, items=items, next_cursor=next_cursor)

    async def ready(self) -> bool:
        """True when the ledger answers."""
        return await self.reader.ping()

    def _item(self, node_id: str, snapshot: SkuSnapshot) -> NodeStockItem:
        safety = safety_stock(snapshot, node_id, self.network)
        buffer = self.network.buffer(node_id, snapshot.sku)
        base = node_atp(snapshot.nodes[node_id], buffer, safety)
        return NodeStockItem(sku=snapshot.sku, version=snapshot.version, **base.model_dump())
