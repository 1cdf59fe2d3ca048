"""`stockline demo`: a WMS/OMS story for one SKU, with ATP printed as the worker publishes it:
each change's network ATP from `inventory.atp` and the nodes it changed from
`inventory.atp.nodes`. Then a storefront's hold: placed through the reservation use case
the API serves (`POST /v1/reservations`), its effect on ATP, and its expiry, which
stockline publishes itself (`hold_released`, reason expired)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer

from stockline.adapters.clients import kafka_consumer, kafka_producer
from stockline.adapters.kafka.partitions import MissingTopics, assign_at_end
from stockline.contracts.codec import encode
from stockline.contracts.outbound import NodeAtpRecord, SkuAtpRecord
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
from stockline.simulation.kafka_io import topic_of


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


HOLD_QTY, HOLD_TTL_S = 5, 3
"""The demo's hold: 5 units at the store, for 3 seconds."""


async def run_demo(settings: Settings, *, sku: str) -> int:
    producer = kafka_producer(settings, acks="all")
    consumer = kafka_consumer(settings, enable_auto_commit=False)
    await producer.start()
    await consumer.start()
    try:
        await _seek_to_end(settings, consumer, [settings.atp_nodes_topic, settings.atp_topic])
        view = AtpView(sku, settings.atp_nodes_topic)
        for text, event in story(sku, time.time_ns() // 1000 - 60_000_000):
            topic = topic_of(settings, event)  # the configured input topic of its type
            await producer.send_and_wait(topic, encode(event), key=sku.encode())
            print(f"> {text}")
            print(f"  {await _next_change(consumer, view)}")
        await _hold_and_expire(settings, sku, consumer, view)
    finally:
        await producer.stop()
        await consumer.stop()
    return 0


async def _hold_and_expire(
    settings: Settings, sku: str, consumer: AIOKafkaConsumer, view: AtpView
) -> None:
    """A hold placed as the API places one, then left to expire under the API's sweep."""
    from stockline.adapters.http.metrics import HttpMetrics
    from stockline.bootstrap import redis_client, reservation_services
    from stockline.contracts.api import ReservationRequest

    redis = redis_client(settings)
    reservations, expiry, hold_log = reservation_services(settings, redis, HttpMetrics())
    await hold_log.start()
    try:
        request = ReservationRequest.model_validate(
            {
                "reservation_id": f"DEMO-{uuid.uuid4().hex[:8]}",
                "lines": [{"sku": sku, "qty": HOLD_QTY, "nodes": ["STORE-12", "DC-EAST"]}],
                "ttl_seconds": HOLD_TTL_S,
            }
        )
        answer = await reservations.place(request)
        held = json.loads(answer.body)
        where = ", ".join(f"{line['qty']} at {line['node_id']}" for line in held["lines"])
        print(f"> a storefront holds {where} for {HOLD_TTL_S} s (POST /v1/reservations)")
        print(f"  {await _next_change(consumer, view)}")
        print("> nobody checks out: the hold expires and stockline releases it")
        sweeping = asyncio.create_task(expiry.run())
        try:
            print(f"  {await _next_change(consumer, view, timeout=HOLD_TTL_S + 30)}")
        finally:
            sweeping.cancel()
            await asyncio.gather(sweeping, return_exceptions=True)
    finally:
        await hold_log.stop()
        await redis.aclose()


@dataclass
class AtpView:
    """What a storefront keeps of one SKU from the two ATP topics: per node the latest
    `inventory.atp.nodes` record, and the latest `inventory.atp` record (network ATP)."""

    sku: str
    nodes_topic: str
    version: int = -1
    """The highest version taken so far; records at or below it are stale."""
    nodes: dict[str, NodeAtpRecord] = field(default_factory=dict)
    network: SkuAtpRecord | None = None

    def take(self, topic: str, value: bytes) -> int | None:
        """Keep a record of the SKU unless it is stale; returns its version if kept."""
        if topic == self.nodes_topic:
            node = NodeAtpRecord.model_validate_json(value)
            known = self.nodes.get(node.node_id)
            if node.sku != self.sku or (known is not None and node.version <= known.version):
                return None
            self.nodes[node.node_id] = node
            return node.version
        network = SkuAtpRecord.model_validate_json(value)
        if network.sku != self.sku or (
            self.network is not None and network.version <= self.network.version
        ):
            return None
        self.network = network
        return network.version

    def line(self, version: int) -> str:
        """The change to `version`: network ATP, and each node whose record it brought."""
        if self.network is None:
            network = "network unknown"
        elif self.network.version == version:
            network = f"network {self.network.network_atp}"
        else:
            network = f"network {self.network.network_atp} (unchanged)"
        head = f"ATP at {_clock(version)}: {network}"
        changed = [_node_text(n) for _, n in sorted(self.nodes.items()) if n.version == version]
        if not changed:
            return head
        # one node per line, the bars aligned under the first
        indent = "\n  " + " " * len(head) + " | "
        return f"{head} | " + indent.join(changed)


def _clock(version: int) -> str:
    """A version is the time (µs since the epoch) of the batch that made it: its UTC time
    of day, to the millisecond."""
    at = datetime.fromtimestamp(version / 1e6, tz=UTC)
    return at.strftime("%H:%M:%S.%f")[:-3]


def _node_text(n: NodeAtpRecord) -> str:
    buffer = f", buffer {n.buffer}" if n.buffer else ""
    return (
        f"{n.node_id}: atp {n.atp} (on_hand {n.on_hand}, reserved {n.reserved}, "
        f"held {n.held}, inbound {n.inbound}{buffer})"
    )


async def _seek_to_end(settings: Settings, consumer: AIOKafkaConsumer, topics: list[str]) -> None:
    """Assign every partition of `topics` at its end (topics created a moment ago are
    waited for); SystemExit naming them when they do not exist."""
    try:
        await assign_at_end(settings, consumer, topics)
    except MissingTopics as exc:
        raise SystemExit(
            f"stockline demo: topics {tuple(topics)} do not exist: run `stockline topics`"
        ) from exc


async def _next_change(consumer: AIOKafkaConsumer, view: AtpView, timeout: float = 30) -> str:
    """Wait for the SKU's next version on either topic, then read on until the topics fall
    quiet (the worker publishes one batch's records together) and describe it."""
    deadline = time.monotonic() + timeout
    newest: int | None = None
    while time.monotonic() < deadline:
        batch = await consumer.getmany(timeout_ms=500 if newest is None else 250)
        records = [r for rs in batch.values() for r in rs]
        if not records and newest is not None:
            view.version = newest
            return view.line(newest)
        for record in records:
            version = view.take(record.topic, record.value or b"")
            if version is not None and version > view.version:
                newest = max(version, newest or version)
    raise SystemExit(
        f"stockline demo: no ATP update for {view.sku} within {timeout:.0f}s — is a worker running?"
    )
