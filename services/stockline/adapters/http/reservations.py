"""The reservation routes (DESIGN.md section 6) over the `Reservations` use case.

POST answers 201 (`Reservation`) or 409 `insufficient_stock` (`InsufficientStock`), both
replayed byte for byte for the same reservation_id and body; 409 `reservation_conflict`
for another body under the same id; 503 `unavailable` when Kafka did not take the holds.
Writes need a bearer token unless anonymous writes are turned on (`adapters/http/auth.py`).
`ReservationFront` answers well-formed POSTs without the framework's routing (the
storefronts' hot write); the routes answer everything else and render every error.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, FastAPI, Path, Request, Security
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPBearer
from pydantic import ValidationError
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stockline.adapters.http.errors import ApiError, error_response, failure_response
from stockline.contracts.api import (
    ErrorBody,
    ExtendRequest,
    InsufficientStock,
    Reservation,
    ReservationRequest,
)
from stockline.contracts.events import CODE_PATTERN
from stockline.service_layer.reservation_ports import Outcome
from stockline.service_layer.reservations import (
    Closed,
    Conflict,
    InProgress,
    NotFound,
    ReservationError,
    Reservations,
    Unavailable,
)

JSON: Final = "application/json"
PREFIX: Final = "/v1/reservations"
ReservationPath = Annotated[str, Path(pattern=CODE_PATTERN, description="the reservation_id")]

_STATUS: Final[dict[type[ReservationError], int]] = {
    Conflict: 409,
    InProgress: 409,
    Closed: 409,
    NotFound: 404,
    Unavailable: 503,
}
_ANSWER_STATUS: Final[dict[Outcome, int]] = {
    Outcome.HELD: 201,
    Outcome.INSUFFICIENT_STOCK: 409,
    Outcome.UNAVAILABLE: 503,
}
_bearer = HTTPBearer(auto_error=False, description="one of the configured API tokens")


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorBody} for status in (401, 403, 503, *statuses)}


async def _refused(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ReservationError)
    return error_response(_STATUS.get(type(exc), 409), exc.code, exc.detail)


def install_reservation_errors(app: FastAPI) -> None:
    """Render the use case's refusals as `ErrorBody`s with their status."""
    app.add_exception_handler(ReservationError, _refused)


def _json(status: int, body: bytes | str) -> Response:
    return Response(body, status_code=status, media_type=JSON)


def reservations_router(reservations: Reservations | None) -> APIRouter:
    """`/v1/reservations`; without a `Reservations` service (a read-only process) every
    route answers 503 `reservations_unavailable`."""
    router = APIRouter(prefix=PREFIX, dependencies=[Security(_bearer)], tags=["reservations"])

    def service() -> Reservations:
        if reservations is None:
            detail = "this API process was started without the reservation service"
            raise ApiError(503, "reservations_unavailable", detail)
        return reservations

    @router.post(
        "",
        status_code=201,
        response_model=Reservation,
        responses={
            409: {"model": InsufficientStock, "description": "insufficient_stock, or "
                  "reservation_conflict / reservation_in_progress (an ErrorBody)"},
            **_errors(400, 413, 422),
        },
    )  # fmt: skip
    async def post_reservation(request: ReservationRequest) -> Response:
        """Hold every line at the first candidate node whose ATP covers it (one atomic
        step per SKU), durable on `inventory.reservations` before the answer. With
        all_or_nothing (default), a refused line refuses the reservation and releases the
        rest; without, what can be held is held and `refused` lists the rest (409 when
        nothing could be held). The same reservation_id and body answer the same again."""
        answer = await service().place(request)
        return _json(_ANSWER_STATUS[answer.outcome], answer.body)

    @router.get("/{reservation_id}", response_model=Reservation, responses=_errors(404, 422))
    async def get_reservation(reservation_id: ReservationPath) -> Response:
        """The reservation's holds: `held`, `released` (DELETE) or `expired`. 404 for an
        unknown id, or one that was refused (it holds nothing)."""
        found = await service().get(reservation_id)
        return _json(200, found.model_dump_json())

    @router.patch(
        "/{reservation_id}", response_model=Reservation, responses=_errors(400, 404, 409, 413, 422)
    )
    async def patch_reservation(reservation_id: ReservationPath, change: ExtendRequest) -> Response:
        """Extend every hold to `ttl_seconds` from now (`hold_extended`; an expiry is never
        shortened). 409 `reservation_closed` once released or expired."""
        extended = await service().extend(reservation_id, change.ttl_seconds)
        return _json(200, extended.model_dump_json())

    @router.delete("/{reservation_id}", response_model=Reservation, responses=_errors(404, 422))
    async def delete_reservation(reservation_id: ReservationPath) -> Response:
        """Release every hold (`hold_released`, reason released); idempotent."""
        released = await service().release(reservation_id)
        return _json(200, released.model_dump_json())

    return router


class ReservationFront:
    """ASGI: answers `POST /v1/reservations` with a JSON body that validates, passes the
    rest to `app` (a body that does not validate is handed on as it came, so the route's
    error handling answers it). With `route` in the scope, metrics label it as the route."""

    def __init__(self, app: ASGIApp, reservations: Reservations | None, route: BaseRoute) -> None:
        self.app = app
        self.reservations = reservations
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.reservations is None or not _is_json_post(scope):
            await self.app(scope, receive, send)
            return
        body, more = await _body(receive)
        try:
            request = ReservationRequest.model_validate_json(body)
        except ValidationError:
            await self.app(scope, _replay(body, more, receive), send)
            return
        scope["route"] = self.route
        try:
            answer = await self.reservations.place(request)
            response: Response = _json(_ANSWER_STATUS[answer.outcome], answer.body)
        except ReservationError as exc:
            response = error_response(_STATUS.get(type(exc), 409), exc.code, exc.detail)
        except Exception as exc:
            response = failure_response(exc)
        await response(scope, receive, send)


def post_route(routes: list[BaseRoute]) -> BaseRoute:
    """The route `POST /v1/reservations` (for metrics labels)."""
    return next(
        r
        for r in routes
        if getattr(r, "path_format", "") == PREFIX and "POST" in (getattr(r, "methods", ()) or ())
    )


def _is_json_post(scope: Scope) -> bool:
    if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PREFIX:
        return False
    for name, value in scope["headers"]:
        if name == b"content-type":
            return bytes(value).split(b";")[0].strip().lower() == b"application/json"
    return False


async def _body(receive: Receive) -> tuple[bytes, Message | None]:
    """The request body, and the message that ended it early (a disconnect) if any; its size
    is bounded by `BodyLimit` outside."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), message
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), None


def _replay(body: bytes, ended: Message | None, receive: Receive) -> Receive:
    """A `receive` that hands the body on again, then defers to the connection's own."""
    first: Message = {"type": "http.request", "body": body, "more_body": False}
    pending = [ended if ended is not None else first]

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed
