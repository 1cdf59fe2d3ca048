"""The worker's ATP records as Kafka values (DESIGN.md section 4), built from plain data.

The bytes are exactly what `NodeAtpRecord(...).to_bytes()` and `SkuAtpRecord(...).to_bytes()`
give (compact UTF-8 JSON, the models' field order; a unit test holds them equal), without
building and validating a model per record on the hot path.
"""

from __future__ import annotations

from collections.abc import Iterator

import orjson

from stockline.service_layer.ports import SkuChange


def node_records(change: SkuChange, as_of: str) -> Iterator[tuple[str, str, bytes]]:
    """(sku, node_id, value) of every node of the change."""
    sku, version = change.sku, change.version
    for node in change.nodes:
        stock = node.stock
        yield (
            sku,
            node.node_id,
            orjson.dumps(
                {
                    "sku": sku,
                    "node_id": node.node_id,
                    "version": version,
                    "as_of": as_of,
                    "atp": node.atp,
                    "on_hand": stock.on_hand,
                    "reserved": stock.reserved,
                    "held": stock.held,
                    "inbound": stock.inbound,
                    "buffer": node.buffer,
                }
            ),
        )


def sku_record(change: SkuChange, as_of: str) -> bytes:
    """The value of the SKU's `inventory.atp` record; the change must carry totals."""
    assert change.totals is not None
    return orjson.dumps(
        {
            "sku": change.sku,
            "version": change.version,
            "as_of": as_of,
            "network_atp": change.totals.network_atp,
            "channels": change.totals.channels,
        }
    )
