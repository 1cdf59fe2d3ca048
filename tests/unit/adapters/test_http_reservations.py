"""The reservation routes on in-memory ports: status codes, error bodies, bad input, auth."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from stockline.adapters.http.app import ReadApi, create_app
from stockline.adapters.memory import MemoryLedgerReader, MemoryLedgerStore, StaticNetworkView
from stockline.adapters.memory_reservations import ListHoldLog, MemoryReservationRecords
from stockline.domain.events import Receipt
from stockline.service_layer.availability import Availability
from stockline.service_layer.ports import Delivery
from stockline.service_layer.reservations import Reservations

TOKEN = "t0ken"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
T0 = 1_795_000_000_000_000


async def make_app(log: ListHoldLog, **options: Any) -> ReadApi:
    store = MemoryLedgerStore()
    event = Receipt("r-1", T0, "wms", "DC-1", "SKU-A", qty=10)
    await store.apply([Delivery(event, "seed", 0, 0)], T0)
    reservations = Reservations(store, log, MemoryReservationRecords())
    availability = Availability(MemoryLedgerReader(store), StaticNetworkView())
    return create_app(availability, reservations=reservations, max_body_bytes=4096, **options)


@pytest.fixture
def log() -> ListHoldLog:
    return ListHoldLog()


@pytest.fixture
async def client(log: ListHoldLog) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=await make_app(log, tokens=[TOKEN]))
    async with httpx.AsyncClient(transport=transport, base_url="http://api", headers=AUTH) as c:
        yield c


def body(**changes: Any) -> dict[str, Any]:
    line = {"sku": "SKU-A", "qty": 2, "node_id": "DC-1"}
    return {"reservation_id": "R-1", "lines": [line], **changes}


async def test_a_hold_is_201_and_a_conflict_409(client: httpx.AsyncClient) -> None:
    placed = await client.post("/v1/reservations", json=body())
    assert placed.status_code == 201
    assert placed.json()["status"] == "held"
    again = await client.post("/v1/reservations", json=body())
    assert (again.status_code, again.content) == (201, placed.content)
    other = await client.post("/v1/reservations", json=body(ttl_seconds=60))
    assert (other.status_code, other.json()["error"]) == (409, "reservation_conflict")


async def test_unknown_sku_is_409_with_atp_0(client: httpx.AsyncClient) -> None:
    line = {"sku": "NEVER", "qty": 1, "nodes": ["DC-1", "S-2"]}
    answer = await client.post("/v1/reservations", json=body(lines=[line]))
    assert answer.status_code == 409
    assert answer.json()["error"] == "insufficient_stock"
    assert answer.json()["lines"][0]["atp"] == {"DC-1": 0, "S-2": 0}


def _line(**changes: Any) -> dict[str, Any]:
    return {"sku": "SKU-A", "qty": 1, "node_id": "DC-1", **changes}


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"lines": [_line(qty=0)]}, "body.lines.0.qty"),
        ({"lines": [_line(qty=1_000_001)]}, "body.lines.0.qty"),
        ({"ttl_seconds": 0}, "body.ttl_seconds"),
        ({"ttl_seconds": 86_401}, "body.ttl_seconds"),
        ({"lines": [_line(sku=f"S{n}") for n in range(101)]}, "body.lines"),
        ({"lines": []}, "body.lines"),
        ({"lines": [_line(nodes=["DC-1"])]}, "body.lines.0"),
        ({"lines": [{"sku": "SKU-A", "qty": 1}]}, "body.lines.0"),
        ({"lines": [_line(node_id=None, nodes=["DC-1"])]}, "body.lines.0"),
        ({"lines": [_line(node_id=None, nodes=["DC-1"] * 2)]}, "body.lines.0"),
        ({"reservation_id": "has space"}, "body.reservation_id"),
        ({"extra": 1}, "body.extra"),
    ],
    ids=[
        "qty-0", "qty-too-big", "ttl-0", "ttl-86401", "101-lines", "no-lines",
        "node-and-nodes", "no-node", "null-node", "node-twice", "bad-id", "unknown-field",
    ],
)  # fmt: skip
async def test_bad_input_is_422_naming_the_field(
    client: httpx.AsyncClient, log: ListHoldLog, changes: dict[str, Any], where: str
) -> None:
    answer = await client.post("/v1/reservations", json=body(**changes))
    assert answer.status_code == 422, answer.text
    got = answer.json()
    assert got["error"] == "invalid_request"
    assert where in [p["field"] for p in got["problems"]]
    assert log.events == []


async def test_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    answer = await client.post(
        "/v1/reservations",
        content=b'{"reservation_id": ',
        headers={"content-type": "application/json"},
    )
    assert (answer.status_code, answer.json()["error"]) == (400, "malformed_body")


async def test_an_oversized_body_is_413(client: httpx.AsyncClient) -> None:
    answer = await client.post("/v1/reservations", content=b" " * 5000)
    assert (answer.status_code, answer.json()["error"]) == (413, "body_too_large")


async def test_a_dead_log_is_503_unavailable(client: httpx.AsyncClient, log: ListHoldLog) -> None:
    log.down = True
    answer = await client.post("/v1/reservations", json=body())
    assert (answer.status_code, answer.json()["error"]) == (503, "unavailable")


async def test_get_patch_delete(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/reservations/R-1")).status_code == 404
    await client.post("/v1/reservations", json=body())
    assert (await client.get("/v1/reservations/R-1")).json()["status"] == "held"
    patched = await client.patch("/v1/reservations/R-1", json={"ttl_seconds": 60})
    assert patched.status_code == 200
    bad = await client.patch("/v1/reservations/R-1", json={"ttl_seconds": 0})
    assert bad.status_code == 422
    deleted = await client.delete("/v1/reservations/R-1")
    assert (deleted.status_code, deleted.json()["status"]) == (200, "released")
    closed = await client.patch("/v1/reservations/R-1", json={"ttl_seconds": 60})
    assert (closed.status_code, closed.json()["error"]) == (409, "reservation_closed")


async def test_writes_without_any_token_configured_are_refused(log: ListHoldLog) -> None:
    transport = httpx.ASGITransport(app=await make_app(log))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
        refused = await c.post("/v1/reservations", json=body())
        assert (refused.status_code, refused.json()["error"]) == (403, "anonymous_writes_disabled")
        assert "STOCKLINE_API_TOKENS" in refused.json()["detail"]
        assert (await c.delete("/v1/reservations/R-1")).status_code == 403
        assert (await c.get("/v1/reservations/R-1")).status_code == 404  # reads stay open
        assert (await c.get("/v1/availability/SKU-A")).status_code != 403
    transport = httpx.ASGITransport(app=await make_app(log, allow_anonymous_writes=True))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
        assert (await c.post("/v1/reservations", json=body())).status_code == 201


async def test_writes_need_the_token_when_tokens_are_configured(log: ListHoldLog) -> None:
    transport = httpx.ASGITransport(app=await make_app(log, tokens=[TOKEN]))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
        refused = await c.post("/v1/reservations", json=body())
    assert (refused.status_code, refused.json()["error"]) == (401, "unauthorized")


async def test_without_the_service_the_routes_answer_503() -> None:
    store = MemoryLedgerStore()
    app = create_app(Availability(MemoryLedgerReader(store), StaticNetworkView()), tokens=[TOKEN])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api", headers=AUTH) as c:
        answer = await c.post("/v1/reservations", json=body())
    assert (answer.status_code, answer.json()["error"]) == (503, "reservations_unavailable")


async def test_405_names_every_method_of_the_path(client: httpx.AsyncClient) -> None:
    answer = await client.put("/v1/reservations/R-1", json={})
    assert answer.status_code == 405
    assert answer.headers["Allow"] == "DELETE, GET, PATCH"


async def test_posts_are_counted_under_their_route_whichever_layer_answers(
    client: httpx.AsyncClient,
) -> None:
    """A valid hold is answered without the framework's routing, a bad one by the route;
    both count under the route's template, like every other request."""
    assert (await client.post("/v1/reservations", json=body())).status_code == 201
    assert (await client.post("/v1/reservations", json=body(ttl_seconds=0))).status_code == 422
    bare = await client.post(
        "/v1/reservations",
        content=b'{"reservation_id": "R-9"',
        headers={"content-type": "application/json"},
    )
    assert (bare.status_code, bare.json()["error"]) == (400, "malformed_body")
    metrics = (await client.get("/metrics")).text
    counted = 'stockline_http_requests_total{method="POST",route="/v1/reservations",status='
    assert f'{counted}"2xx"}} 1.0' in metrics
    assert f'{counted}"4xx"}} 2.0' in metrics
