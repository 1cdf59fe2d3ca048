"""The batch use case on in-memory ports: what reaches the DLQ, the ledger and inventory.atp."""

from __future__ import annotations

import json

from stockline.adapters.memory import ListPublisher, MemoryLedgerStore
from stockline.contracts.codec import encode
from stockline.domain.events import OrderPlaced, Receipt
from stockline.service_layer.ports import RawRecord
from stockline.service_layer.process_batch import LedgerPipeline

NOW = 1_795_000_000_000_000
WEEK_US = 7 * 86_400 * 1_000_000


def pipeline(safety: int = 0) -> tuple[LedgerPipeline, MemoryLedgerStore, ListPublisher]:
    store, publisher = MemoryLedgerStore(), ListPublisher()
    return (
        LedgerPipeline(
            store, publisher, WEEK_US, clock=lambda: NOW, safety_stock=lambda n, s: safety
        ),
        store,
        publisher,
    )


def record(offset: int, event: Receipt | OrderPlaced, partition: int = 0) -> RawRecord:
    return RawRecord("inventory.receipts", partition, offset, event.sku.encode(), encode(event))


def receipt(n: int, sku: str = "SKU-1", node: str = "DC-1", qty: int = 10) -> Receipt:
    return Receipt(f"r-{sku}-{n}", NOW - 5_000_000, "wms", node, sku, qty=qty)


async def test_one_coalesced_atp_message_per_changed_sku() -> None:
    run, _, publisher = pipeline()
    records = [record(0, receipt(1)), record(1, receipt(2)), record(2, receipt(1, sku="SKU-2"))]

    report = await run.process(records)

    assert [sku for sku, _ in publisher.atp] == ["SKU-1", "SKU-2"]
    first = json.loads(publisher.atp[0][1])
    assert first["version"] == 1
    assert first["network_atp"] == 20  # two receipts of 10
    assert first["nodes"] == {
        "DC-1": {"atp": 20, "on_hand": 20, "reserved": 0, "inbound": 0, "safety_stock": 0}
    }
    assert first["as_of"].endswith("Z")
    assert report.atp_messages == 2
    assert report.by_type_outcome["receipt", "applied"] == 3


async def test_safety_stock_lowers_atp_but_never_below_zero() -> None:
    run, _, publisher = pipeline(safety=15)
    order = OrderPlaced("o-1", NOW - 1_000_000, "oms", "DC-1", "SKU-1", qty=3, order_id="SO-1")
    await run.process([record(0, receipt(1, qty=20)), record(1, order)])
    node = json.loads(publisher.atp[0][1])["nodes"]["DC-1"]
    assert node["atp"] == 2  # 20 on hand - 3 reserved - 15 safety stock
    await run.process([record(2, order)])  # the same order again: nothing changes, no message
    assert len(publisher.atp) == 1


async def test_bad_records_go_to_the_dlq_with_headers_and_the_rest_applies() -> None:
    run, store, publisher = pipeline()
    bad = RawRecord("inventory.picks", 2, 41, b"SKU-1", b"{not json")
    report = await run.process([bad, record(42, receipt(1), partition=2)])

    assert len(publisher.dlq) == 1
    dead, headers = publisher.dlq[0]
    assert dead is bad
    assert dict(headers) == {
        "reason": b"bad_json",
        "detail": dict(headers)["detail"],
        "source_topic": b"inventory.picks",
        "source_partition": b"2",
        "source_offset": b"41",
    }
    assert report.dlq_reasons == {"bad_json": 1}
    snapshot = await store.snapshot("SKU-1")
    assert snapshot is not None
    assert snapshot.nodes["DC-1"].on_hand == 10


async def test_a_replayed_batch_changes_nothing_but_republishes_the_snapshot() -> None:
    run, store, publisher = pipeline()
    batch = [record(0, receipt(1)), record(1, receipt(2))]
    await run.process(batch)
    report = await run.process(batch)  # as after a crash before the offsets were committed

    assert report.by_type_outcome["receipt", "redelivered"] == 2
    versions = [json.loads(value)["version"] for _, value in publisher.atp]
    assert versions == [1, 1]
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
