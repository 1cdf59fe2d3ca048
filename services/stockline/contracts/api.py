"""Wire models of the HTTP read API (DESIGN.md section 6) besides the ATP snapshot itself.

A single availability answer is an `AtpMessage`, the same model `inventory.atp` carries,
so a storefront parses one shape whichever way it reads ATP.
"""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from stockline.contracts.events import Code
from stockline.contracts.outbound import AtpMessage, NodeAtp, NonNegative

BATCH_LIMIT: Final = 500
"""The most SKUs one batch request may carry (DESIGN.md section 6)."""
NODE_FILTER_LIMIT: Final = 100
PAGE_LIMIT: Final = 1000
"""The largest page of a node's stock listing."""


class BatchRequest(BaseModel):
    """Up to 500 SKUs, optionally narrowed to some nodes and/or the nodes serving a channel."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    skus: list[Code] = Field(min_length=1, json_schema_extra={"maxItems": BATCH_LIMIT})
    nodes: list[Code] | None = Field(None, min_length=1, max_length=NODE_FILTER_LIMIT)
    """Only these nodes count: in `nodes`, `network_atp` and `channels`."""
    channel: Code | None = None
    """Only nodes serving this channel count; `channels` then holds just this channel."""


class BatchAvailability(BaseModel):
    """One snapshot per known SKU, in request order (repeats answered once)."""

    model_config = ConfigDict(frozen=True)

    items: list[AtpMessage]
    not_found: list[str]
    """Requested SKUs no event has touched: unknown, not out of stock."""


class NodeStockItem(NodeAtp):
    """One SKU's ledger at the node, with the SKU's version."""

    sku: str
    version: NonNegative


class NodeStockPage(BaseModel):
    """A page of a node's stock in SKU order; pass `next_cursor` as `cursor` for the next."""

    model_config = ConfigDict(frozen=True)

    node_id: str
    items: list[NodeStockItem]
    next_cursor: str | None
    """None on the last page."""


class Problem(BaseModel):
    """One thing wrong with a request: where (`body.skus.3`, `query.limit`) and what."""

    model_config = ConfigDict(frozen=True)

    field: str
    problem: str


class ErrorBody(BaseModel):
    """Every 4xx and 5xx body: a stable machine code and a sentence for humans."""

    model_config = ConfigDict(frozen=True)

    error: str
    detail: str
    problems: list[Problem] = Field(default_factory=list)
