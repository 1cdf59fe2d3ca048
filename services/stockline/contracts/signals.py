"""Signal wire messages (DESIGN.md sections 4 and 5), keyed by SKU.

- `ReorderRecord` on `inventory.signals.reorder`: a supplier order suggestion for one
  (node, sku); `suggested_qty` brings `position` to `order_up_to`, rounded up to the case
  pack (and at least the MOQ).
- `RebalanceRecord` on `inventory.signals.rebalance`: a transfer suggestion from a donor
  node to a short one, on the lane `lane_days` / `lane_cost` describe.

`signal_id` is deterministic (kind, node, sku, review day), so a replay publishes the same
ids again: consumers drop an id they have seen. `record` is the one way a domain signal
becomes a message; consumers parse with `parse_reorder` / `parse_rebalance`.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from stockline.contracts.outbound import NonNegative, UtcTimestamp
from stockline.domain.signals import ReorderSignal, Signal

Positive = Annotated[int, Field(ge=1)]
SignalId = Annotated[str, Field(min_length=1, max_length=128)]


class ReorderRecord(BaseModel):
    """The value published to `inventory.signals.reorder` for one (node, sku).

    `position` (on_hand + inbound - reserved - held) may be negative.
    """

    model_config = ConfigDict(strict=True, frozen=True)

    signal_id: SignalId
    node_id: str
    sku: str
    position: int
    reorder_point: NonNegative
    order_up_to: NonNegative
    suggested_qty: Positive
    reason: Literal["position_at_or_below_reorder_point"]  # domain.signals.REORDER_REASON
    as_of: UtcTimestamp

    def to_bytes(self) -> bytes:
        """Compact UTF-8 JSON, the Kafka message value."""
        return self.model_dump_json().encode()


class RebalanceRecord(BaseModel):
    """The value published to `inventory.signals.rebalance`: move `qty` units of `sku`
    from `from_node` (the donor) to `to_node` (the short node)."""

    model_config = ConfigDict(strict=True, frozen=True)

    signal_id: SignalId
    sku: str
    from_node: str
    to_node: str
    qty: Positive
    lane_days: NonNegative
    lane_cost: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    reason: Literal["donor_above_order_up_to"]  # domain.signals.REBALANCE_REASON
    as_of: UtcTimestamp

    def to_bytes(self) -> bytes:
        """Compact UTF-8 JSON, the Kafka message value."""
        return self.model_dump_json().encode()


SignalRecord = ReorderRecord | RebalanceRecord


def record(signal: Signal) -> SignalRecord:
    """The wire message of a domain signal: its fields one for one, validated (a reason
    the schema does not list raises pydantic's ValidationError)."""
    fields = {f.name: getattr(signal, f.name) for f in dataclasses.fields(signal)}
    if isinstance(signal, ReorderSignal):
        return ReorderRecord.model_validate(fields)
    return RebalanceRecord.model_validate(fields)


def parse_reorder(value: bytes) -> ReorderRecord:
    """An `inventory.signals.reorder` value; pydantic's ValidationError when it is not one."""
    return ReorderRecord.model_validate_json(value)


def parse_rebalance(value: bytes) -> RebalanceRecord:
    """An `inventory.signals.rebalance` value; pydantic's ValidationError when it is not one."""
    return RebalanceRecord.model_validate_json(value)
