"""Outbound wire messages: the two ATP records (DESIGN.md section 4) and DLQ headers.

- `NodeAtpRecord` on `inventory.atp.nodes` (compacted, key `<sku>/<node_id>`): one record
  per (sku, node) whose values changed in a batch.
- `SkuAtpRecord` on `inventory.atp` (compacted, key `sku`): the SKU's network and channel
  ATP, when they changed in a batch.

Both carry the SKU's `version` after the batch, so readers drop any record whose version is
not above the last one they applied for its key; the latest record per key alone is the
truth after compaction. The full per-SKU view (every node) is the read API's `AtpMessage`.
"""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field

from stockline.contracts import rfc3339
from stockline.contracts.codec import Rejection

HEADER_REASON: Final = "reason"
HEADER_DETAIL: Final = "detail"
HEADER_SOURCE_TOPIC: Final = "source_topic"
HEADER_SOURCE_PARTITION: Final = "source_partition"
HEADER_SOURCE_OFFSET: Final = "source_offset"

NonNegative = Annotated[int, Field(ge=0)]
UTC_PATTERN: Final = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{6})?Z$"
"""The shape of `as_of`: RFC 3339 in UTC as rendered by `as_of()`."""
UtcTimestamp = Annotated[str, Field(pattern=UTC_PATTERN)]


def node_record_key(sku: str, node_id: str) -> str:
    """The `inventory.atp.nodes` key of a (sku, node); neither id can contain `/`."""
    return f"{sku}/{node_id}"


class NodeAtpRecord(BaseModel):
    """The value published to `inventory.atp.nodes` for one (sku, node).

    `atp = max(0, on_hand - reserved - held - buffer)`; `on_hand` may be negative (the WMS
    saw a pick the ledger did not expect).
    """

    model_config = ConfigDict(strict=True, frozen=True)

    sku: str
    node_id: str
    version: NonNegative
    as_of: UtcTimestamp
    atp: NonNegative
    on_hand: int
    reserved: int
    held: int
    inbound: int
    buffer: NonNegative

    def to_bytes(self) -> bytes:
        """Compact UTF-8 JSON, the Kafka message value."""
        return self.model_dump_json().encode()


class SkuAtpRecord(BaseModel):
    """The value published to `inventory.atp` for one SKU: network ATP (the sum of node
    ATPs) and per channel the sum over the nodes serving it (empty without channels)."""

    model_config = ConfigDict(strict=True, frozen=True)

    sku: str
    version: NonNegative
    as_of: UtcTimestamp
    network_atp: NonNegative
    channels: dict[str, NonNegative] = Field(default_factory=dict)

    def to_bytes(self) -> bytes:
        """Compact UTF-8 JSON, the Kafka message value."""
        return self.model_dump_json().encode()


class NodeAtp(BaseModel):
    """One node of the read API's per-SKU view: the buckets, ATP, and the planning level
    `safety_stock` (shown, not subtracted: DESIGN.md section 3)."""

    model_config = ConfigDict(strict=True, frozen=True)

    atp: NonNegative
    on_hand: int
    reserved: int
    held: int
    inbound: int
    buffer: NonNegative
    safety_stock: NonNegative


class AtpMessage(BaseModel):
    """The read API's full view of one SKU: every node with a ledger for it, network and
    channel totals, and the SKU's version (its ETag)."""

    model_config = ConfigDict(strict=True, frozen=True)

    sku: str
    version: NonNegative
    as_of: UtcTimestamp
    network_atp: NonNegative
    nodes: dict[str, NodeAtp]
    channels: dict[str, NonNegative] = Field(default_factory=dict)

    def to_bytes(self) -> bytes:
        """Compact UTF-8 JSON."""
        return self.model_dump_json().encode()


def as_of(epoch_us: int) -> str:
    """The `as_of` text for a time in microseconds since the epoch (RFC 3339, UTC, `Z`)."""
    return rfc3339.render_utc(epoch_us)


def dlq_headers(
    rejection: Rejection, topic: str, partition: int, offset: int
) -> list[tuple[str, bytes]]:
    """Kafka headers for a DLQ record; every value is UTF-8 text.

    The record's value and key are the original message's, untouched.
    """
    return [
        (HEADER_REASON, rejection.reason.value.encode()),
        (HEADER_DETAIL, rejection.detail.encode("utf-8", "backslashreplace")),
        (HEADER_SOURCE_TOPIC, topic.encode()),
        (HEADER_SOURCE_PARTITION, str(partition).encode()),
        (HEADER_SOURCE_OFFSET, str(offset).encode()),
    ]
