"""Wire models of the HTTP read API (DESIGN.md section 6) besides the ATP snapshot itself.

A single availability answer is an `AtpMessage`, the same model `inventory.atp` carries,
so a storefront parses one shape whichever way it reads ATP.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from stockline.contracts.events import CODE_PATTERN, Code
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


RESERVATION_LINES_LIMIT: Final = 100
"""The most lines one reservation may carry (DESIGN.md section 6)."""
CANDIDATES_LIMIT: Final = 50
"""The most candidate nodes one line may name."""
DEFAULT_TTL_S: Final = 900
MAX_TTL_S: Final = 86_400
MAX_HOLD_QTY: Final = 1_000_000
ReservationId = Annotated[
    str,
    Field(pattern=CODE_PATTERN, description="the caller's idempotency key: same id, same answer"),
]
TtlSeconds = Annotated[int, Field(ge=1, le=MAX_TTL_S, description="seconds the holds last")]


def _one_place_schema(schema: dict[str, Any]) -> None:
    """`node_id` and `nodes` as the strings they are when given, and exactly one given."""
    properties = schema["properties"]
    for name in ("node_id", "nodes"):
        variants = properties[name].pop("anyOf")
        properties[name].pop("default", None)
        properties[name].update(next(v for v in variants if v.get("type") != "null"))
    schema["oneOf"] = [{"required": ["node_id"]}, {"required": ["nodes"]}]


class ReservationLine(BaseModel):
    """One line: `qty` of `sku` at `node_id`, or at the first of `nodes` (candidates in
    order of preference) whose ATP covers it. Exactly one of the two. Two lines of one SKU
    held at one node are one hold of their sum (a hold is per reservation, node and SKU)."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_one_place_schema)

    sku: Code
    qty: int = Field(ge=1, le=MAX_HOLD_QTY)
    node_id: Code | None = None
    nodes: list[Code] | None = Field(
        None, min_length=1, max_length=CANDIDATES_LIMIT, json_schema_extra={"uniqueItems": True}
    )

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict) and any(data.get(k, 0) is None for k in ("node_id", "nodes")):
            raise ValueError("node_id and nodes must not be null; omit the one not given")
        return data

    @model_validator(mode="after")
    def _one_place(self) -> ReservationLine:
        if (self.node_id is None) == (self.nodes is None):
            raise ValueError("give exactly one of node_id and nodes")
        if self.nodes is not None and len(set(self.nodes)) != len(self.nodes):
            raise ValueError("nodes names a node twice")
        return self

    @property
    def candidates(self) -> tuple[str, ...]:
        return (self.node_id,) if self.node_id is not None else tuple(self.nodes or ())


class ReservationRequest(BaseModel):
    """`POST /v1/reservations`: hold every line (all_or_nothing) or what can be held."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reservation_id: ReservationId
    lines: list[ReservationLine] = Field(min_length=1, max_length=RESERVATION_LINES_LIMIT)
    ttl_seconds: TtlSeconds = DEFAULT_TTL_S
    all_or_nothing: bool = True


class ExtendRequest(BaseModel):
    """`PATCH /v1/reservations/{id}`: every hold now expires `ttl_seconds` from now."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ttl_seconds: TtlSeconds


class HeldLine(BaseModel):
    """A line held: `qty` of `sku` at `node_id` until `expires_at`."""

    model_config = ConfigDict(frozen=True)

    line: int = Field(ge=0, description="the line's index in the request")
    sku: str
    qty: int
    node_id: str
    expires_at: str


class RefusedLine(BaseModel):
    """A line no candidate covered, with each candidate's ATP when it was decided."""

    model_config = ConfigDict(frozen=True)

    line: int = Field(ge=0, description="the line's index in the request")
    sku: str
    qty: int
    atp: dict[str, int]
    """Per candidate node, in the request's order: its ATP (0 at a node without stock)."""


ReservationStatus = Literal["held", "released", "expired"]


class Reservation(BaseModel):
    """A reservation's holds. `refused` lists lines not held (only without all_or_nothing);
    `status` is `released` after DELETE and `expired` once `expires_at` has passed."""

    model_config = ConfigDict(frozen=True)

    reservation_id: str
    status: ReservationStatus
    lines: list[HeldLine]
    refused: list[RefusedLine] = Field(default_factory=list)
    expires_at: str


class InsufficientStock(ErrorBody):
    """A 409 of `POST /v1/reservations`. With `insufficient_stock`, `lines` lists the
    refused lines and the ATP of each of their candidates (with all_or_nothing, lines that
    could be held were released again); with `reservation_conflict` or
    `reservation_in_progress` it is empty."""

    lines: list[RefusedLine] = Field(default_factory=list)
