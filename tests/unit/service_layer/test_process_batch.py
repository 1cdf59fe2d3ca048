"""The batch use case on in-memory ports: what reaches the DLQ, the ledger and the ATP topics."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stockline.adapters.memory import ListPublisher, MemoryLedgerReader, MemoryLedgerStore
from stockline.adapters.network_file import load_network
from stockline.contracts.codec import encode
from stockline.domain.effects import day_of
from stockline.domain.events import CycleCount, OrderCancelled, OrderPlaced, Pick, Receipt
from stockline.domain.network import Network
from stockline.domain.signals import ReviewMark
from stockline.service_layer.availability import Availability
from stockline.service_layer.planning import Planner
from stockline.service_layer.ports import RawRecord
from stockline.service_layer.process_batch import LedgerPipeline

NOW = 1_795_000_000_000_000
WEEK_US = 7 * 86_400 * 1_000_000


NETWORK = """
nodes:
  - {id: DC-1, kind: dc, region: east, channels: [web]}
  - {id: STORE-1, kind: store, region: east, channels: [store-pickup, web]}
lanes:
  - {from: DC-1, to: STORE-1, transit_days: 1, cost_per_unit: 0.5}
classes: {default: C}
policies:
  defaults:
    A: {kind: static, reorder_point: 10, order_up_to: 40, supplier_lead_time_days: 28}
    B: {kind: static, reorder_point: 10, order_up_to: 40, supplier_lead_time_days: 28}
    C:
      kind: static
      reorder_point: 10
      order_up_to: 40
      safety_stock: 15
      supplier_lead_time_days: 28
      case_pack: 10
      moq: 20
      buffer: 5
"""


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Network:
    path = tmp_path_factory.mktemp("network") / "network.yaml"
    path.write_text(NETWORK)
    return load_network(path)


def pipeline(
    network: Network | None = None,
) -> tuple[LedgerPipeline, MemoryLedgerStore, ListPublisher]:
    store, publisher = MemoryLedgerStore(), ListPublisher()
    planner = Planner(network)
    run = LedgerPipeline(store, publisher, WEEK_US, clock=lambda: NOW, planner=planner)
    return run, store, publisher


def record(offset: int, event: Receipt | OrderPlaced, partition: int = 0) -> RawRecord:
    return RawRecord("inventory.receipts", partition, offset, event.sku.encode(), encode(event))


def receipt(n: int, sku: str = "SKU-1", node: str = "DC-1", qty: int = 10) -> Receipt:
    return Receipt(f"r-{sku}-{n}", NOW - 5_000_000, "wms", node, sku, qty=qty)


def nodes_of(publisher: ListPublisher) -> list[dict[str, object]]:
    return [json.loads(value) for _, value in publisher.atp_nodes]


async def test_one_coalesced_record_per_changed_node_and_sku() -> None:
    run, _, publisher = pipeline()
    records = [
        record(0, receipt(1)),
        record(1, receipt(2)),
        record(2, receipt(1, sku="SKU-2")),
        record(3, receipt(3, node="STORE-1", qty=4)),
    ]

    report = await run.process(records)

    assert [key for key, _ in publisher.atp_nodes] == ["SKU-1/DC-1", "SKU-1/STORE-1", "SKU-2/DC-1"]
    assert nodes_of(publisher)[0] == {
        "sku": "SKU-1",
        "node_id": "DC-1",
        "version": NOW,  # the time of the batch that changed it
        "as_of": nodes_of(publisher)[0]["as_of"],
        "atp": 20,  # two receipts of 10, coalesced into one record
        "on_hand": 20,
        "reserved": 0,
        "held": 0,
        "inbound": 0,
        "buffer": 0,
    }
    assert [sku for sku, _ in publisher.atp] == ["SKU-1", "SKU-2"]
    first = json.loads(publisher.atp[0][1])
    assert (first["version"], first["network_atp"], first["channels"]) == (NOW, 24, {})
    assert first["as_of"].endswith("Z")
    assert report.atp_messages == 5
    assert report.by_type_outcome["receipt", "applied"] == 4


async def test_a_change_at_one_node_publishes_that_node_alone() -> None:
    run, _, publisher = pipeline()
    await run.process([record(0, receipt(1)), record(1, receipt(2, node="STORE-1"))])
    await run.process([record(2, receipt(3, node="STORE-1", qty=1))])
    assert [key for key, _ in publisher.atp_nodes[2:]] == ["SKU-1/STORE-1"]
    assert json.loads(publisher.atp[-1][1])["network_atp"] == 21


async def test_the_buffer_lowers_atp_and_channels_total_their_nodes(network: Network) -> None:
    run, _, publisher = pipeline(network)
    order = OrderPlaced("o-1", NOW - 1_000_000, "oms", "DC-1", "SKU-1", qty=3, order_id="SO-1")
    await run.process(
        [
            record(0, receipt(1, qty=20)),
            record(1, order),
            record(2, receipt(2, node="STORE-1", qty=16)),
        ]
    )
    by_node = {n["node_id"]: n for n in nodes_of(publisher)}
    assert by_node["DC-1"]["atp"] == 12  # 20 on hand - 3 reserved - 5 buffer
    assert by_node["STORE-1"]["atp"] == 11  # 16 - 5; safety stock 15 is not subtracted
    assert by_node["DC-1"]["buffer"] == 5
    message = json.loads(publisher.atp[0][1])
    assert message["channels"] == {"store-pickup": 11, "web": 12 + 11}
    assert message["network_atp"] == 23
    await run.process([record(3, order)])  # the same order again: nothing changes, no record
    assert (len(publisher.atp_nodes), len(publisher.atp)) == (2, 1)


async def test_the_read_side_shows_what_the_worker_published(network: Network) -> None:
    run, store, publisher = pipeline(network)
    await run.process([record(0, receipt(1, qty=20))])
    published = json.loads(publisher.atp[-1][1])
    (node,) = nodes_of(publisher)
    answered = await Availability(MemoryLedgerReader(store), Planner(network).view).of_sku("SKU-1")
    assert answered is not None
    assert answered.nodes["DC-1"].atp == node["atp"] == 15  # 20 - buffer 5
    assert answered.nodes["DC-1"].safety_stock == 15  # a planning level, shown
    assert answered.channels == published["channels"] == {"web": 15}
    assert answered.version == published["version"] == node["version"]


async def test_a_node_not_in_the_network_has_no_buffer_and_no_channel(
    network: Network,
) -> None:
    run, _, publisher = pipeline(network)
    await run.process([record(0, receipt(1, node="POPUP-9", qty=5))])
    (node,) = nodes_of(publisher)
    assert (node["buffer"], node["atp"]) == (0, 5)
    message = json.loads(publisher.atp[0][1])
    assert message["network_atp"] == 5
    assert message["channels"] == {}


async def test_one_reorder_signal_per_crossing_of_the_reorder_point(network: Network) -> None:
    run, store, publisher = pipeline(network)
    await run.process([record(0, receipt(1, node="STORE-1", qty=12))])  # position 12 > 10
    assert publisher.reorder == []

    pick = Pick("p-1", NOW - 1_000_000, "pos", "STORE-1", "SKU-1", qty=4)
    report = await run.process([RawRecord("inventory.picks", 0, 0, b"SKU-1", encode(pick))])
    assert len(publisher.reorder) == 1  # 12 - 4 = 8 <= 10: crossed
    signal = json.loads(publisher.reorder[0][1])
    assert signal["node_id"] == "STORE-1"
    assert signal["position"] == 8
    # order_up_to 40 - 8 = 32, rounded up to the case pack of 10 = 40 (>= MOQ 20)
    assert signal["suggested_qty"] == 40
    assert report.signals == {("reorder", "position_at_or_below_reorder_point"): 1}

    again = Pick("p-2", NOW - 900_000, "pos", "STORE-1", "SKU-1", qty=1)
    await run.process([RawRecord("inventory.picks", 0, 1, b"SKU-1", encode(again))])
    # position 7: need 40 - 7 = 33, of which the day's reorder covers 40: no repeat
    assert len(publisher.reorder) == 1
    assert store.reviews["SKU-1"]["STORE-1"] == ReviewMark(day_of(again.occurred_us), covered=40)


async def test_a_short_node_is_rebalanced_from_the_donor_instead_of_reordered(
    network: Network,
) -> None:
    run, _, publisher = pipeline(network)
    await run.process(
        [record(0, receipt(1, node="DC-1", qty=100)), record(1, receipt(2, node="STORE-1", qty=5))]
    )
    assert publisher.reorder == []  # DC-1 has 100 - 40 = 60 spare above its order-up-to
    (rebalance,) = [json.loads(value) for _, value in publisher.rebalance]
    assert rebalance["from_node"] == "DC-1"
    assert rebalance["to_node"] == "STORE-1"
    # need 40 - 5 = 35, rounded up to the case pack of 10 = 40, within the spare of 60:
    # position 5 + 40 reaches order_up_to, so nothing is left to reorder
    assert rebalance["qty"] == 40
    assert rebalance["lane_days"] == 1


async def test_bad_records_go_to_the_dlq_with_headers_and_the_rest_applies() -> None:
    run, store, publisher = pipeline()
    bad = RawRecord("inventory.picks", 2, 41, b"SKU-1", b"{not json")
    report = await run.process([bad, record(42, receipt(1), partition=2)])

    assert len(publisher.dlq) == 1
    dead, headers = publisher.dlq[0]
    assert dead is bad
    fields = dict(headers)
    assert fields.pop("detail").startswith(b"Invalid JSON: ")  # and where it broke:
    assert dict(headers)["detail"].endswith(b"at line 1 column 2")
    assert fields == {
        "reason": b"bad_json",
        "source_topic": b"inventory.picks",
        "source_partition": b"2",
        "source_offset": b"41",
    }
    assert report.dlq_reasons == {"bad_json": 1}
    snapshot = await store.snapshot("SKU-1")
    assert snapshot is not None
    assert snapshot.nodes["DC-1"].on_hand == 10


async def test_a_replayed_batch_changes_nothing_but_republishes_its_records() -> None:
    run, store, publisher = pipeline()
    batch = [record(0, receipt(1)), record(1, receipt(2))]
    await run.process(batch)
    report = await run.process(batch)  # as after a crash before the offsets were committed

    assert report.by_type_outcome["receipt", "redelivered"] == 2
    assert [json.loads(value)["version"] for _, value in publisher.atp] == [NOW, NOW]
    assert publisher.atp_nodes[0] == publisher.atp_nodes[1] or (
        json.loads(publisher.atp_nodes[0][1]) | {"as_of": ""}
        == json.loads(publisher.atp_nodes[1][1]) | {"as_of": ""}
    )
    snapshot = await store.snapshot("SKU-1")
    assert snapshot is not None
    assert snapshot.nodes["DC-1"].on_hand == 20


async def test_watermarks_cover_every_record_including_rejected_ones() -> None:
    run, store, _ = pipeline()
    await run.process(
        [
            record(5, receipt(1)),
            RawRecord("inventory.receipts", 0, 9, None, b"[]"),
            record(7, receipt(2)),
        ]
    )
    assert await store.watermarks([("inventory.receipts", 0), ("inventory.receipts", 1)]) == {
        ("inventory.receipts", 0): 9
    }


async def test_event_age_is_measured_at_apply_for_applied_events_only() -> None:
    run, _, _ = pipeline()
    report = await run.process([record(0, receipt(1)), record(1, receipt(1))])
    assert report.event_ages_s == [5.0]  # occurred 5 s before NOW; the duplicate is not aged


async def test_a_replay_of_what_the_store_lost_republishes_the_nodes_it_touches() -> None:
    run, _, publisher = pipeline()
    await run.process([record(0, receipt(1)), record(1, receipt(2, node="STORE-1"))])
    order = OrderPlaced("o-1", NOW - 1_000_000, "oms", "DC-1", "SKU-1", qty=3, order_id="SO-1")
    cancel = OrderCancelled("c-1", NOW - 900_000, "oms", "DC-1", "SKU-1", order_id="SO-1")
    batch = [
        RawRecord("inventory.orders", 0, 0, b"SKU-1", encode(order)),
        RawRecord("inventory.orders", 0, 1, b"SKU-1", encode(cancel)),
    ]
    await run.process(batch, republish=True)
    # placed and cancelled in one batch: nothing changed, yet the dc's record goes out again
    assert [key for key, _ in publisher.atp_nodes[2:]] == ["SKU-1/DC-1"]
    assert json.loads(publisher.atp_nodes[-1][1])["reserved"] == 0


async def test_a_batch_retried_after_a_store_error_dead_letters_once() -> None:
    store, publisher = MemoryLedgerStore(), ListPublisher()
    failing = {"left": 2}
    apply = store.apply

    async def flaky(*args: Any, **kwargs: Any) -> Any:
        if failing["left"]:
            failing["left"] -= 1
            raise ConnectionError("Redis is down")
        return await apply(*args, **kwargs)

    store.apply = flaky  # type: ignore[method-assign]
    run = LedgerPipeline(store, publisher, WEEK_US, clock=lambda: NOW)
    batch = [RawRecord("inventory.picks", 0, 7, b"SKU-1", b"{not json"), record(8, receipt(1))]
    for _ in range(2):  # the consumer retries the same batch while the store is down
        with pytest.raises(ConnectionError):
            await run.process(batch)
    report = await run.process(batch)
    assert len(publisher.dlq) == 1  # once, though the batch ran three times
    assert report.dlq_reasons == {"bad_json": 1}
    await run.process([RawRecord("inventory.picks", 0, 9, b"SKU-1", b"[]")])
    assert len(publisher.dlq) == 2  # the next batch's reject is written as usual


@pytest.mark.parametrize(("at_record_time", "applied"), [(True, True), (False, False)])
async def test_a_rebuild_judges_a_count_by_its_records_time(
    at_record_time: bool, applied: bool
) -> None:
    # counted 8 days ago, produced 2 days after: fresh then (within the week), stale now
    count = CycleCount("c-1", NOW - 8 * 86_400_000_000, "wms", "DC-1", "SKU-1", counted_qty=7)
    produced_ms = (count.occurred_us + 2 * 86_400_000_000) // 1000
    raw = RawRecord("inventory.counts", 0, 0, b"SKU-1", encode(count), timestamp_ms=produced_ms)
    store, publisher = MemoryLedgerStore(), ListPublisher()
    run = LedgerPipeline(
        store, publisher, WEEK_US, clock=lambda: NOW, validate_at_record_time=at_record_time
    )
    report = await run.process([raw])
    assert report.by_type_outcome["cycle_count", "applied"] == int(applied)
    assert report.dlq_reasons["stale_count"] == int(not applied)


async def test_freshness_and_age_are_seconds_from_occurred_at() -> None:
    run, _, _ = pipeline()
    # both receipts occurred 5 s before the batch; the repeated one is a duplicate
    records = [record(0, receipt(1)), record(1, receipt(2)), record(2, receipt(1))]
    report = await run.process(records)
    assert report.atp_freshness_s == [5.0, 5.0]
    assert report.event_ages_s == [5.0, 5.0]
