"""The read-side queries on in-memory ports: ATP per node, network and channel, filters,
unknown SKUs and nodes, paging."""

from __future__ import annotations

import pytest
from tests.unit.service_layer.read_side import T0, stock

from stockline.adapters.memory import MemoryLedgerReader, MemoryLedgerStore, StaticNetworkView
from stockline.contracts.outbound import as_of
from stockline.service_layer.availability import Availability, NodeFilter

NETWORK = StaticNetworkView(
    safety={("DC-1", "SKU-A"): 10},
    buffers={("DC-1", "SKU-A"): 4},
    channels={"DC-1": frozenset({"web", "stores"}), "STORE-1": frozenset({"stores"})},
)


@pytest.fixture
async def availability() -> Availability:
    store = MemoryLedgerStore()
    await stock(store)
    return Availability(MemoryLedgerReader(store), NETWORK, clock=lambda: T0)


async def test_one_sku_has_the_inventory_atp_shape_with_channel_totals(
    availability: Availability,
) -> None:
    message = await availability.of_sku("SKU-A")

    assert message is not None
    assert message.model_dump() == {
        "sku": "SKU-A",
        "version": T0,  # the time of the batch that changed it
        "as_of": as_of(T0),
        "network_atp": 44,  # DC-1: 50 - 8 - 0 held - 4 buffer; STORE-1: 6
        "nodes": {
            "DC-1": {
                "atp": 38,
                "on_hand": 50,
                "reserved": 8,
                "held": 0,
                "inbound": 0,
                "buffer": 4,
                "safety_stock": 10,  # a planning level: shown, not subtracted
            },
            "STORE-1": {
                "atp": 6,
                "on_hand": 6,
                "reserved": 0,
                "held": 0,
                "inbound": 0,
                "buffer": 0,
                "safety_stock": 0,
            },
        },
        "channels": {"stores": 44, "web": 38},
    }


async def test_without_a_network_buffer_is_zero_and_channels_empty() -> None:
    store = MemoryLedgerStore()
    await stock(store)
    message = await Availability(MemoryLedgerReader(store), StaticNetworkView()).of_sku("SKU-A")
    assert message is not None
    assert (message.network_atp, message.channels) == (48, {})


async def test_an_unknown_sku_is_none_not_zero(availability: Availability) -> None:
    assert await availability.of_sku("SKU-NEVER") is None


async def test_a_batch_answers_in_request_order_once_per_sku_and_lists_unknowns(
    availability: Availability,
) -> None:
    answer = await availability.of_skus(["SKU-B", "SKU-X", "SKU-A", "SKU-B"], NodeFilter())
    assert [m.sku for m in answer.items] == ["SKU-B", "SKU-A"]
    assert answer.not_found == ["SKU-X"]


async def test_a_channel_filter_counts_only_the_nodes_serving_it(
    availability: Availability,
) -> None:
    answer = await availability.of_skus(["SKU-A", "SKU-B"], NodeFilter(channel="web"))
    a, b = answer.items
    assert (list(a.nodes), a.network_atp, a.channels) == (["DC-1"], 38, {"web": 38})
    assert (list(b.nodes), b.network_atp, b.channels) == (["DC-1"], 3, {"web": 3})


async def test_a_node_filter_narrows_nodes_network_and_channels(
    availability: Availability,
) -> None:
    answer = await availability.of_skus(["SKU-A"], NodeFilter(nodes=frozenset({"STORE-1"})))
    (a,) = answer.items
    assert (list(a.nodes), a.network_atp, a.channels) == (["STORE-1"], 6, {"stores": 6})


async def test_a_channel_no_node_serves_totals_zero(availability: Availability) -> None:
    (a,) = (await availability.of_skus(["SKU-A"], NodeFilter(channel="marketplace"))).items
    assert (a.nodes, a.network_atp, a.channels) == ({}, 0, {"marketplace": 0})


async def test_paging_walks_a_node_in_sku_order_without_gaps_or_repeats(
    availability: Availability,
) -> None:
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = await availability.node_stock("MFC-1", cursor=cursor, limit=10)
        assert page is not None
        seen += [item.sku for item in page.items]
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [f"SKU-P{n:02d}" for n in range(25)]
    assert pages == 3


async def test_a_node_page_item_carries_the_sku_version_and_node_stock(
    availability: Availability,
) -> None:
    page = await availability.node_stock("DC-1", cursor=None, limit=1)
    assert page is not None
    assert page.items[0].model_dump() == {
        "sku": "SKU-A",
        "version": T0,  # the time of the batch that changed it
        "atp": 38,
        "on_hand": 50,
        "reserved": 8,
        "held": 0,
        "inbound": 0,
        "buffer": 4,
        "safety_stock": 10,
    }
    assert page.next_cursor == "SKU-A"


async def test_an_unknown_node_is_none_and_a_cursor_past_the_end_an_empty_page(
    availability: Availability,
) -> None:
    assert await availability.node_stock("NODE-X", cursor=None, limit=10) is None
    past = await availability.node_stock("MFC-1", cursor="SKU-Z", limit=10)
    assert past is not None
    assert (past.items, past.next_cursor) == ([], None)


async def test_ready_follows_the_ledger() -> None:
    reader = MemoryLedgerReader(MemoryLedgerStore())
    availability = Availability(reader, StaticNetworkView())
    assert await availability.ready()
    reader.reachable = False
    assert not await availability.ready()


async def test_the_fast_json_is_the_models_json(availability: Availability) -> None:
    from stockline.service_layer.availability import atp_json, atp_message

    snapshot = (await availability.reader.snapshots(["SKU-A"]))[0]
    assert snapshot is not None
    fast = atp_json(snapshot, NETWORK, T0)
    assert fast == atp_message(snapshot, NETWORK, T0).to_bytes()
