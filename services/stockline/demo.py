"""`stockline demo`: a WMS/OMS story for one SKU, with ATP printed as the worker publishes it."""

from __future__ import annotations

import json
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from stockline.contracts.codec import encode
from stockline.domain.events import (
    CycleCount,
    Event,
    InboundExpected,
    OrderPlaced,
    Pick,
    Receipt,
    TransferReceived,
    TransferShipped,
)
from stockline.settings import Settings

TOPIC_OF = {
    Receipt: "inventory.receipts",
    Pick: "inventory.picks",
    CycleCount: "inventory.cycle-counts",
    OrderPlaced: "inventory.orders",
    InboundExpected: "inventory.receipts",
    TransferShipped: "inventory.transfers",
    TransferReceived: "inventory.transfers",
}


def story(sku: str, start_us: int) -> list[tuple[str, Event]]:
    """What happens to one SKU across a DC and a store, one step a second apart."""
    run = uuid.uuid4().hex[:8]

    def at(step: int) -> dict[str, object]:
        return {
            "event_id": f"demo-{run}-{step}",
            "occurred_us": start_us + step * 1_000_000,
            "source": "demo",
            "sku": sku,
        }

    return [
        ("DC-EAST receives 120", Receipt(**at(1), node_id="DC-EAST", qty=120)),
        (
            "a storefront order reserves 30 at DC-EAST",
            OrderPlaced(**at(2), node_id="DC-EAST", qty=30, order_id=f"SO-{run}"),
        ),
        ("the order is picked", Pick(**at(3), node_id="DC-EAST", qty=30, order_id=f"SO-{run}")),
        (
            "DC-EAST ships 40 to STORE-12",
            TransferShipped(
                **at(4), node_id="DC-EAST", qty=40, transfer_id=f"TR-{run}", to_node="STORE-12"
            ),
        ),
        (
            "STORE-12 receives the transfer",
            TransferReceived(
                **at(5), node_id="STORE-12", qty=40, transfer_id=f"TR-{run}", from_node="DC-EAST"
            ),
        ),
        (
            "a cycle count finds 45 at DC-EAST",
            CycleCount(**at(6), node_id="DC-EAST", counted_qty=45),
        ),
        (
            "an ASN announces 200 inbound to DC-EAST",
            InboundExpected(**at(7), node_id="DC-EAST", qty=200, asn_id=f"ASN-{run}"),
        ),
    ]  # type: ignore[arg-type]


async def run_demo(settings: Settings, *, sku: str) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False
    )
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
