"""`stockline demo`: a WMS/OMS story for one SKU, with ATP printed as the worker publishes it."""

from __future__ import annotations

import json
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from stockline.adapters.kafka.options import client_options
from stockline.contracts.codec import encode
from stockline.domain.events import (
    CycleCount,
    InboundExpected,
    InventoryEvent,
    OrderPlaced,
    Pick,
    Receipt,
    TransferReceived,
    TransferShipped,
)
from stockline.settings import Settings

TOPIC_OF: dict[type[InventoryEvent], str] = {
    Receipt: "inventory.receipts",
    Pick: "inventory.picks",
    CycleCount: "inventory.cycle-counts",
    OrderPlaced: "inventory.orders",
    InboundExpected: "inventory.receipts",
    TransferShipped: "inventory.transfers",
    TransferReceived: "inventory.transfers",
}


def story(sku: str, start_us: int) -> list[tuple[str, InventoryEvent]]:
    """What happens to one SKU across a DC and a store, one step a second apart."""
    run = uuid.uuid4().hex[:8]
    order, transfer = f"SO-{run}", f"TR-{run}"

    def eid(step: int) -> str:
        return f"demo-{run}-{step}"

    def at(step: int) -> int:
        return start_us + step * 1_000_000

    dc, store = "DC-EAST", "STORE-12"
    return [
        ("DC-EAST receives 120", Receipt(eid(1), at(1), "demo", dc, sku, qty=120)),
        (
            "a storefront order reserves 30 at DC-EAST",
            OrderPlaced(eid(2), at(2), "demo", dc, sku, qty=30, order_id=order),
        ),
        ("the order is picked", Pick(eid(3), at(3), "demo", dc, sku, qty=30, order_id=order)),
        (
            "DC-EAST ships 40 to STORE-12",
            TransferShipped(eid(4), at(4), "demo", dc, sku, 40, transfer, to_node=store),
        ),
        (
            "STORE-12 receives the transfer",
            TransferReceived(eid(5), at(5), "demo", store, sku, 40, transfer, from_node=dc),
        ),
        (
            "a cycle count finds 45 at DC-EAST",
            CycleCount(eid(6), at(6), "demo", dc, sku, counted_qty=45),
        ),
        (
            "an ASN announces 200 inbound to DC-EAST",
            InboundExpected(eid(7), at(7), "demo", dc, sku, qty=200, asn_id=f"ASN-{run}"),
        ),
    ]


async def run_demo(settings: Settings, *, sku: str) -> int:
    producer = AIOKafkaProducer(**client_options(settings), acks="all")
    consumer = AIOKafkaConsumer(**client_options(settings), enable_auto_commit=False)
    await producer.start()
    await consumer.start()
    try:
        await _seek_to_end(consumer, settings.atp_topic)
        version = 0
        for text, event in story(sku, time.time_ns() // 1000 - 60_000_000):
            await producer.send_and_wait(TOPIC_OF[type(event)], encode(event), key=sku.encode())
            print(f"> {text}")
            version = await _print_next_atp(consumer, sku, version)
    finally:
        await producer.stop()
        await consumer.stop()
    return 0


async def _seek_to_end(consumer: AIOKafkaConsumer, topic: str) -> None:
    partitions = consumer.partitions_for_topic(topic) or set()
    if not partitions:
        await consumer._client.force_metadata_update()
        partitions = consumer.partitions_for_topic(topic) or set()
    tps = [TopicPartition(topic, p) for p in partitions]
    consumer.assign(tps)
    await consumer.seek_to_end(*tps)


async def _print_next_atp(
    consumer: AIOKafkaConsumer, sku: str, after: int, timeout: float = 30
) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = await consumer.getmany(timeout_ms=500)
        for record in (r for records in batch.values() for r in records):
            message = json.loads(record.value)
            if message["sku"] == sku and message["version"] > after:
                nodes = ", ".join(
                    f"{n}: atp {s['atp']} (on_hand {s['on_hand']}, reserved {s['reserved']}, "
                    f"inbound {s['inbound']})"
                    for n, s in message["nodes"].items()
                )
                print(f"  ATP v{message['version']}: network {message['network_atp']} | {nodes}")
                return int(message["version"])
    raise SystemExit(
        f"stockline demo: no ATP update for {sku} within {timeout:.0f}s — is a worker running?"
    )
