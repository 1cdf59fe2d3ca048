"""HTTP caching of single-SKU reads on in-memory ports: ETag is the SKU's version,
If-None-Match answers 304, HEAD sends the headers alone, Cache-Control when configured."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import httpx
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from tests.unit.adapters.test_http_api import AUTH, TOKEN
from tests.unit.service_layer.read_side import T0, receipt, stock

from stockline.adapters.http.app import create_app
from stockline.adapters.memory import MemoryLedgerReader, MemoryLedgerStore, StaticNetworkView
from stockline.domain.events import InventoryEvent
from stockline.service_layer.availability import Availability
from stockline.service_layer.ports import Delivery, SkuSnapshot

URL = "/v1/availability/SKU-A"


async def receive(store: MemoryLedgerStore, event: InventoryEvent, offset: int = 0) -> None:
    """One more event for the ledger, from a topic of its own (the seed's offsets differ)."""
    await store.apply([Delivery(event, "more", 0, offset)], T0)


async def client_of(store: MemoryLedgerStore, **options: object) -> httpx.AsyncClient:
    app = create_app(
        Availability(MemoryLedgerReader(store), StaticNetworkView()),
        tokens=(TOKEN,),
        **options,  # type: ignore[arg-type]
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api")


@pytest.fixture
async def store() -> MemoryLedgerStore:
    store = MemoryLedgerStore()
    await stock(store)
    return store


@pytest.fixture
async def client(store: MemoryLedgerStore) -> AsyncIterator[httpx.AsyncClient]:
    async with await client_of(store) as c:
        yield c


async def test_a_read_sends_its_version_as_a_strong_etag_and_no_cache_control(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(URL, headers=AUTH)
    assert response.status_code == 200
    assert response.headers["ETag"] == f'"{response.json()["version"]}"' == f'"{T0}"'
    assert "Cache-Control" not in response.headers
    assert response.headers["Content-Type"] == "application/json"


async def test_cache_control_carries_the_configured_max_age(store: MemoryLedgerStore) -> None:
    async with await client_of(store, cache_max_age_s=30) as c:
        response = await c.get(URL, headers=AUTH)
        not_modified = await c.get(URL, headers={**AUTH, "If-None-Match": f'"{T0}"'})
    assert response.headers["Cache-Control"] == "max-age=30"
    assert not_modified.headers["Cache-Control"] == "max-age=30"


@pytest.mark.parametrize("given", [f'"{T0}"', "*", f'W/"{T0}"', f'"0", "{T0}"', f' "7" ,"{T0}"'])
async def test_if_none_match_naming_the_version_is_304_without_a_body(
    client: httpx.AsyncClient, given: str
) -> None:
    response = await client.get(URL, headers={**AUTH, "If-None-Match": given})
    assert response.status_code == 304
    assert response.headers["ETag"] == f'"{T0}"'
    assert response.content == b""


@pytest.mark.parametrize("given", ['"0"', f'"{T0}1"', str(T0), f'"{T0}'])
async def test_if_none_match_naming_another_version_is_a_full_answer(
    client: httpx.AsyncClient, given: str
) -> None:
    response = await client.get(URL, headers={**AUTH, "If-None-Match": given})
    assert response.status_code == 200
    assert response.json()["sku"] == "SKU-A"


async def test_a_new_version_answers_the_old_etag_in_full(
    client: httpx.AsyncClient, store: MemoryLedgerStore
) -> None:
    first = await client.get(URL, headers=AUTH)
    await receive(store, receipt("SKU-A", "DC-1", 5))
    second = await client.get(URL, headers={**AUTH, "If-None-Match": first.headers["ETag"]})
    assert second.status_code == 200
    assert second.headers["ETag"] == f'"{T0 + 1}"'  # the same microsecond: one more
    assert second.json()["nodes"]["DC-1"]["on_hand"] == 55


async def test_head_sends_the_headers_of_the_get_alone(client: httpx.AsyncClient) -> None:
    get = await client.get(URL, headers=AUTH)
    head = await client.head(URL, headers=AUTH)
    assert head.status_code == 200
    assert head.content == b""
    for name in ("ETag", "Content-Type", "Content-Length"):
        assert head.headers[name] == get.headers[name]
    assert (await client.head(URL, headers={**AUTH, "If-None-Match": "*"})).status_code == 304


@pytest.mark.parametrize(
    ("path", "headers", "status", "error"),
    [
        ("/v1/availability/SKU-NEVER", AUTH, 404, "sku_not_found"),
        (URL, {}, 401, "unauthorized"),
        ("/v1/availability/bad%20sku", AUTH, 422, "invalid_request"),
    ],
)
async def test_head_and_if_none_match_keep_the_errors_of_the_get(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], status: int, error: str
) -> None:
    get = await client.get(path, headers={**headers, "If-None-Match": "*"})
    head = await client.head(path, headers=headers)
    assert (get.status_code, get.json()["error"]) == (status, error)
    assert (head.status_code, head.content) == (status, b"")


async def test_an_unknown_sku_says_so_and_has_no_etag(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/availability/SKU-NEVER", headers=AUTH)
    assert response.json() == {
        "error": "sku_not_found",
        "detail": "no event has touched SKU 'SKU-NEVER'",
        "problems": [],
    }
    assert "ETag" not in response.headers


async def test_batch_items_are_the_single_reads(client: httpx.AsyncClient) -> None:
    single = (await client.get(URL, headers=AUTH)).json()
    batch = await client.post(
        "/v1/availability/batch", json={"skus": ["SKU-A", "SKU-Z", "SKU-A"]}, headers=AUTH
    )
    (item,) = batch.json()["items"]
    assert {**item, "as_of": None} == {**single, "as_of": None}
    assert batch.json()["not_found"] == ["SKU-Z"]


class DownReader(MemoryLedgerReader):
    """A ledger whose reads fail as Redis does when it is unreachable."""

    async def snapshots(self, skus: Sequence[str]) -> list[SkuSnapshot | None]:
        raise RedisConnectionError("Connection refused")


async def test_a_ledger_that_does_not_answer_is_503_for_single_and_batch_reads() -> None:
    app = create_app(Availability(DownReader(MemoryLedgerStore()), StaticNetworkView()))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://a") as c:
        single = await c.get(URL)
        batch = await c.post("/v1/availability/batch", json={"skus": ["SKU-A"]})
    for response in (single, batch):
        assert (response.status_code, response.json()["error"]) == (503, "ledger_unavailable")
