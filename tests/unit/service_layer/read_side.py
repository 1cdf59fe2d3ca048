"""A small stocked ledger for read-side tests, written through the store port."""

from __future__ import annotations

from collections.abc import Sequence

from stockline.domain.events import InventoryEvent, OrderPlaced, Receipt
from stockline.service_layer.ports import Delivery, LedgerStore

T0 = 1_795_000_000_000_000


def receipt(sku: str, node: str, qty: int) -> Receipt:
    return Receipt(f"r-{sku}-{node}-{qty}", T0, "wms", node, sku, qty=qty)


def order(sku: str, node: str, qty: int) -> OrderPlaced:
    return OrderPlaced(f"o-{sku}-{node}-{qty}", T0, "oms", node, sku, qty=qty, order_id="SO-1")


STORY: Sequence[InventoryEvent] = (
    receipt("SKU-A", "DC-1", 50),
    order("SKU-A", "DC-1", 8),
    receipt("SKU-A", "STORE-1", 6),
    receipt("SKU-B", "DC-1", 3),
    *(receipt(f"SKU-P{n:02d}", "MFC-1", n + 1) for n in range(25)),
)
"""SKU-A: DC-1 on_hand 50 reserved 8, STORE-1 on_hand 6. SKU-B: DC-1 on_hand 3.
SKU-P00..SKU-P24 at MFC-1 with on_hand 1..25, for paging."""


async def stock(store: LedgerStore, events: Sequence[InventoryEvent] = STORY) -> None:
    """Apply `events` in one batch, then index each SKU under its nodes."""
    deliveries = [Delivery(e, "seed", 0, n) for n, e in enumerate(events)]
    result = await store.apply(deliveries, T0)
    indexed = [(c.sku, n.node_id) for c in result.changes for n in c.nodes if n.new]
    await store.record_progress({("seed", 0): len(events) - 1}, indexed)
