"""The HTTP adapter on in-memory ports: auth, limits, error bodies, paging, metrics."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.types import Message
from tests.unit.service_layer.read_side import stock

from stockline.adapters.http.app import ReadApi, create_app
from stockline.adapters.http.openapi import OPENAPI_PATH, is_stale, main, render_openapi
from stockline.adapters.memory import MemoryLedgerReader, MemoryLedgerStore, StaticNetworkView
from stockline.bootstrap import api_tokens
from stockline.cli import build_parser
from stockline.service_layer.availability import Availability
from stockline.settings import Settings

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def make_app(
    *,
    tokens: tuple[str, ...] = (TOKEN,),
    batch_max: int = 500,
    network: StaticNetworkView | None = None,
) -> ReadApi:
    store = MemoryLedgerStore()
    await stock(store)
    reader = MemoryLedgerReader(store)
    return create_app(
        Availability(reader, network or StaticNetworkView()),
        tokens=tokens,
        max_body_bytes=2048,
        batch_max=batch_max,
    )


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=await make_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
        yield c


async def test_availability_answers_with_the_atp_shape(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/availability/SKU-A", headers=AUTH)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"sku", "version", "as_of", "network_atp", "nodes", "channels"}
    assert (body["network_atp"], body["nodes"]["DC-1"]["reserved"]) == (48, 8)


async def test_an_unknown_sku_is_a_404_that_says_so(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/availability/SKU-NEVER", headers=AUTH)
    assert response.status_code == 404
    assert response.json()["error"] == "sku_not_found"
    assert "SKU-NEVER" in response.json()["detail"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}],
    ids=["none", "wrong-token", "wrong-scheme"],
)
async def test_v1_needs_a_valid_bearer_token(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.post("/v1/availability/batch", json={"skus": ["A"]}, headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json()["error"] == "unauthorized"


async def test_401_comes_before_the_body_is_read() -> None:
    app = await make_app()
    sent: list[Message] = []

    async def receive() -> Message:
        raise AssertionError("the body was read")

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http", "method": "POST", "path": "/v1/availability/batch", "headers": [],
        "query_string": b"", "root_path": "", "scheme": "http", "http_version": "1.1",
        "server": ("api", 80), "client": ("127.0.0.1", 1), "raw_path": b"/v1/availability/batch",
    }  # fmt: skip
    await app(scope, receive, send)
    assert sent[0]["status"] == 401


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/openapi.json"])
async def test_probes_metrics_and_the_document_need_no_token(
    client: httpx.AsyncClient, path: str
) -> None:
    assert (await client.get(path)).status_code == 200


async def test_without_tokens_the_api_is_open() -> None:
    transport = httpx.ASGITransport(app=await make_app(tokens=()))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
        assert (await c.get("/v1/availability/SKU-A")).status_code == 200


async def test_a_body_over_the_limit_is_413_by_length_or_by_stream(
    client: httpx.AsyncClient,
) -> None:
    big = json.dumps({"skus": ["SKU-A"] * 400}).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 512):
            yield big[start : start + 512]

    declared = await client.post("/v1/availability/batch", content=big, headers=AUTH)
    streamed = await client.post("/v1/availability/batch", content=chunks(), headers=AUTH)
    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.json()["error"] == "body_too_large"
        assert "2048 bytes" in response.json()["detail"]


async def test_a_batch_over_the_configured_limit_is_422_naming_it() -> None:
    transport = httpx.ASGITransport(app=await make_app(batch_max=2))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
        response = await c.post(
            "/v1/availability/batch", json={"skus": ["A", "B", "C"]}, headers=AUTH
        )
    assert response.status_code == 422
    assert response.json()["error"] == "batch_too_large"
    assert response.json()["detail"] == "the batch has 3 SKUs; the limit is 2"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"skus": ["SKU-A", "bad sku"]}, "body.skus.1"),
        ({"skus": []}, "body.skus"),
        ({"skus": ["SKU-A"], "colour": "red"}, "body.colour"),
        ({"skus": ["SKU-A"], "nodes": []}, "body.nodes"),
    ],
)
async def test_invalid_batches_are_422_naming_the_field(
    client: httpx.AsyncClient, body: dict[str, object], field: str
) -> None:
    response = await client.post("/v1/availability/batch", json=body, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"
    assert [p["field"] for p in response.json()["problems"]] == [field]


async def test_a_body_that_is_not_json_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/availability/batch",
        content=b'{"skus": [',
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "malformed_body"


async def test_batch_filters_by_node(client: httpx.AsyncClient) -> None:
    body = {"skus": ["SKU-A", "SKU-Z"], "nodes": ["STORE-1"]}
    answer = (await client.post("/v1/availability/batch", json=body, headers=AUTH)).json()
    assert [(m["sku"], m["network_atp"], list(m["nodes"])) for m in answer["items"]] == [
        ("SKU-A", 6, ["STORE-1"])
    ]
    assert answer["not_found"] == ["SKU-Z"]


async def test_batch_filters_by_channel_and_totals_only_the_nodes_serving_it() -> None:
    # SKU-A: DC-1 atp 50 - 8 = 42 (web, stores), STORE-1 atp 6 (stores only)
    channels = {"DC-1": frozenset({"web", "stores"}), "STORE-1": frozenset({"stores"})}
    app = await make_app(network=StaticNetworkView(channels=channels))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://a") as c:
        web = {"skus": ["SKU-A"], "channel": "web"}
        answer = (await c.post("/v1/availability/batch", json=web, headers=AUTH)).json()
        ((sku, atp, nodes, per_channel),) = [
            (m["sku"], m["network_atp"], list(m["nodes"]), m["channels"]) for m in answer["items"]
        ]
        assert (sku, atp, nodes, per_channel) == ("SKU-A", 42, ["DC-1"], {"web": 42})

        stores = {"skus": ["SKU-A"], "channel": "stores"}
        answer = (await c.post("/v1/availability/batch", json=stores, headers=AUTH)).json()
        (item,) = answer["items"]
        assert (item["network_atp"], sorted(item["nodes"])) == (48, ["DC-1", "STORE-1"])

        whole = (await c.get("/v1/availability/SKU-A", headers=AUTH)).json()
        assert whole["channels"] == {"web": 42, "stores": 48}


async def test_the_batch_path_is_not_a_sku(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/availability/batch", headers=AUTH)
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"


async def test_node_stock_pages_follow_the_cursor(client: httpx.AsyncClient) -> None:
    url = "/v1/nodes/MFC-1/stock"
    first = (await client.get(url, params={"limit": 20}, headers=AUTH)).json()
    rest = await client.get(url, params={"cursor": first["next_cursor"]}, headers=AUTH)
    skus = [i["sku"] for i in first["items"] + rest.json()["items"]]
    assert skus == [f"SKU-P{n:02d}" for n in range(25)]
    assert rest.json()["next_cursor"] is None


@pytest.mark.parametrize(
    ("params", "status", "error"),
    [
        ({"limit": 0}, 422, "invalid_request"),
        ({"limit": 1001}, 422, "invalid_request"),
        ({"cursor": "a b"}, 422, "invalid_request"),
        ({"page": 2}, 422, "invalid_request"),
    ],
)
async def test_bad_paging_parameters_are_422(
    client: httpx.AsyncClient, params: dict[str, str | int], status: int, error: str
) -> None:
    response = await client.get("/v1/nodes/MFC-1/stock", params=params, headers=AUTH)
    assert (response.status_code, response.json()["error"]) == (status, error)


async def test_an_unknown_node_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/nodes/NODE-X/stock", headers=AUTH)
    assert (response.status_code, response.json()["error"]) == (404, "node_not_found")


async def test_readyz_is_503_while_the_ledger_is_unreachable() -> None:
    reader = MemoryLedgerReader(MemoryLedgerStore(), reachable=False)
    app = create_app(Availability(reader, StaticNetworkView()))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://a") as c:
        response = await c.get("/readyz")
    assert (response.status_code, response.json()["error"]) == (503, "ledger_unavailable")


async def test_metrics_label_route_templates_and_status_classes_never_skus(
    client: httpx.AsyncClient,
) -> None:
    await client.get("/v1/availability/SKU-A", headers=AUTH)
    await client.get("/v1/availability/SKU-NEVER", headers=AUTH)
    await client.get("/v1/availability/SKU-A")
    text = (await client.get("/metrics")).text
    route = 'route="/v1/availability/{sku}"'
    assert f'stockline_http_requests_total{{method="GET",{route},status="2xx"}} 1.0' in text
    assert f'stockline_http_requests_total{{method="GET",{route},status="4xx"}} 2.0' in text
    assert f"stockline_http_request_seconds_count{{{route}}} 3.0" in text
    assert "SKU-A" not in text
    assert "SKU-NEVER" not in text


async def test_the_served_document_is_the_checked_in_one(client: httpx.AsyncClient) -> None:
    served = (await client.get("/openapi.json")).json()
    assert served == json.loads(OPENAPI_PATH.read_text())


def test_the_checked_in_document_is_current() -> None:
    assert not is_stale(), "stale: run `python -m stockline.adapters.http.openapi`"


def test_the_document_regenerates_and_checks(tmp_path: Path) -> None:
    path = tmp_path / "openapi.json"
    assert main(["--check", "--path", str(path)]) == 1
    assert main(["--path", str(path)]) == 0
    assert main(["--check", "--path", str(path)]) == 0
    assert path.read_text() == render_openapi()


def test_tokens_come_from_settings_and_the_secret_file(tmp_path: Path) -> None:
    secret = tmp_path / "tokens"
    secret.write_text("file-token-1\n\n  file-token-2  \n")
    settings = Settings(api_tokens=("env-token",), api_tokens_file=secret)
    assert api_tokens(settings) == ["env-token", "file-token-1", "file-token-2"]
    assert api_tokens(Settings()) == []


def test_the_cli_has_an_api_command_with_one_worker_per_core() -> None:
    args = build_parser().parse_args(["api"])
    assert (args.command, args.workers) == ("api", len(os.sched_getaffinity(0)))
    assert build_parser().parse_args(["api", "--workers", "3"]).workers == 3
