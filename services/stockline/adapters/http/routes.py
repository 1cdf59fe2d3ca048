"""The API's routes. Availability bodies are `AtpMessage`s, the shape of `inventory.atp`."""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Header, Path, Query, Security
from fastapi.responses import Response
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.convertors import StringConvertor, register_url_convertor

from stockline.adapters.http.errors import ApiError
from stockline.adapters.http.metrics import HttpMetrics
from stockline.adapters.http.sku_route import AnswerResponse, SkuAnswers
from stockline.contracts.api import (
    PAGE_LIMIT,
    BatchAvailability,
    BatchRequest,
    ErrorBody,
    NodeStockPage,
)
from stockline.contracts.events import CODE_PATTERN
from stockline.contracts.outbound import AtpMessage
from stockline.service_layer.availability import Availability, NodeFilter

JSON: Final = "application/json"
DEFAULT_PAGE: Final = 100

SkuPath = Annotated[str, Path(pattern=CODE_PATTERN, description="the SKU")]
NodePath = Annotated[str, Path(pattern=CODE_PATTERN, description="the node id")]


class PageQuery(BaseModel):
    """Query of a paged listing; unknown parameters are refused (422), not ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cursor: str | None = Field(
        None, pattern=CODE_PATTERN, description="`next_cursor` of the previous page; omit first"
    )
    limit: int = Field(DEFAULT_PAGE, ge=1, le=PAGE_LIMIT, description="SKUs per page")


_bearer = HTTPBearer(auto_error=False, description="one of the configured API tokens")


class SkuSegment(StringConvertor):
    """A path segment other than `batch`, so `/v1/availability/batch` is the batch resource
    alone (POST; other methods get 405 naming it). A SKU named `batch` is read by batch."""

    regex = "(?!batch$)[^/]+"


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorBody} for status in (401, 503, *statuses)}


class Status(BaseModel):
    status: str


def _json(model: BaseModel) -> Response:
    """Serialise once, skipping FastAPI's re-validation of an already valid model."""
    return Response(model.model_dump_json(), media_type=JSON)


_CACHING_HEADERS: Final = {
    "ETag": {"description": 'the SKU\'s version, `"<version>"`', "schema": {"type": "string"}},
    "Cache-Control": {
        "description": "`max-age=N` when STOCKLINE_API_CACHE_MAX_AGE_S is set",
        "schema": {"type": "string"},
    },
}
_NOT_MODIFIED: Final[dict[str, Any]] = {
    "description": "Not Modified: `If-None-Match` names the current version (or is `*`)",
    "headers": _CACHING_HEADERS,
}
IfNoneMatch = Annotated[
    str | None,
    Header(description='ETags the client holds (`"7"`, `W/"7"`, `*`); a match answers 304'),
]


def availability_router(answers: SkuAnswers, batch_max: int) -> APIRouter:
    """`/v1` routes; the bearer scheme here only documents what `BearerAuth` enforces.
    Well-formed single-SKU reads are answered by `SkuFront` before this router sees them,
    with the same `SkuAnswers`."""
    register_url_convertor("sku_segment", SkuSegment())
    router = APIRouter(prefix="/v1", dependencies=[Security(_bearer)], tags=["availability"])
    reads, availability = answers.reads, answers.reads.availability

    @router.head(
        "/availability/{sku:sku_segment}",
        response_class=Response,
        responses={
            200: {"description": "the headers of the GET, no body", "headers": _CACHING_HEADERS},
            304: _NOT_MODIFIED,
            **_errors(404, 422),
        },
    )
    @router.get(
        "/availability/{sku:sku_segment}",
        response_model=AtpMessage,
        responses={200: {"headers": _CACHING_HEADERS}, 304: _NOT_MODIFIED, **_errors(404, 422)},
    )
    async def get_availability(sku: SkuPath, if_none_match: IfNoneMatch = None) -> Response:
        """Network ATP of one SKU, per node and per channel, with its ledger version (also
        its `ETag`). 404 when no event ever touched the SKU (unknown is not zero)."""
        given = None if if_none_match is None else if_none_match.encode("latin-1")
        return AnswerResponse(await answers.answer(sku, if_none_match=given))

    @router.post(
        "/availability/batch", response_model=BatchAvailability, responses=_errors(400, 413, 422)
    )
    async def post_availability_batch(request: BatchRequest) -> Response:
        """Availability of up to 500 SKUs in one ledger round trip, optionally counting only
        some nodes and/or the nodes serving a channel. Unknown SKUs are listed in
        `not_found`."""
        if len(request.skus) > batch_max:
            detail = f"the batch has {len(request.skus)} SKUs; the limit is {batch_max}"
            raise ApiError(422, "batch_too_large", detail)
        where = None
        if request.nodes is not None or request.channel is not None:
            nodes = None if request.nodes is None else frozenset(request.nodes)
            where = NodeFilter(nodes=nodes, channel=request.channel)
        return Response(await reads.batch_json(request.skus, where), media_type=JSON)

    @router.get("/nodes/{node_id}/stock", response_model=NodeStockPage, responses=_errors(404, 422))
    async def get_node_stock(node_id: NodePath, page: Annotated[PageQuery, Query()]) -> Response:
        """The node's stock, one page in SKU order; follow `next_cursor` until it is null.
        404 when the node holds no SKU."""
        found = await availability.node_stock(node_id, cursor=page.cursor, limit=page.limit)
        if found is None:
            raise ApiError(404, "node_not_found", f"no SKU has a ledger at node {node_id!r}")
        return _json(found)

    return router


def operations_router(availability: Availability, metrics: HttpMetrics) -> APIRouter:
    """Probes and metrics; never behind auth."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", response_model=Status)
    async def healthz() -> Status:
        """The process serves HTTP."""
        return Status(status="ok")

    @router.get("/readyz", response_model=Status, responses={503: {"model": ErrorBody}})
    async def readyz() -> Status:
        """The ledger (Redis) answers; 503 otherwise."""
        if not await availability.ready():
            raise ApiError(503, "ledger_unavailable", "the stock ledger (Redis) did not answer")
        return Status(status="ready")

    @router.get(
        "/metrics",
        response_class=Response,
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    )
    async def prometheus_metrics() -> Response:
        """Prometheus text exposition of the API's metrics."""
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    return router
