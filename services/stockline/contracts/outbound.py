"""Outbound wire messages: the `inventory.atp` snapshot and `inventory.dlq` headers.

An `AtpMessage` is a full snapshot of one SKU (key = sku on the compacted topic):
every node with a ledger for it, so the latest message per key alone is the truth.
Readers drop any message whose `version` is not above the last one they applied.
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


class NodeAtp(BaseModel):
    """One node's ledger for the SKU; `atp = max(0, on_hand - reserved - safety_stock)`.

    `on_hand` may be negative (the WMS saw a pick the ledger did not expect).
    """

    model_config = ConfigDict(strict=True, frozen=True)

    atp: NonNegative
    on_hand: int
    reserved: int
    inbound: int
    safety_stock: int


class AtpMessage(BaseModel):
    """The value published to `inventory.atp`, one per changed SKU per batch.

    `channels` maps a channel name to the ATP summed over the nodes serving it; it is
    empty when no network file defines channels.
    """

    model_config = ConfigDict(strict=True, frozen=True)

    sku: str
    version: NonNegative
    as_of: UtcTimestamp
    network_atp: NonNegative
    nodes: dict[str, NodeAtp]
    channels: dict[str, NonNegative] = Field(default_factory=dict)

    def to_bytes(self) -> bytes:
        """Compact UTF-8 JSON, the Kafka message value."""
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
