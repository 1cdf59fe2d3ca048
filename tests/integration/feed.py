"""Seeded random event feeds with every event type, for tests on the real stack."""

from __future__ import annotations

import random
import time

from stockline.domain.events import (
    Adjustment,
    AdjustmentReason,
    CycleCount,
    Event,
    InboundExpected,
    OrderCancelled,
    OrderPlaced,
    Pick,
    Receipt,
    TransferReceived,
    TransferShipped,
)

NODES = ("DC-1", "MFC-1", "STORE-1", "STORE-2")


def feed(seed: int, *, skus: int, events: int, run: str) -> list[Event]:
    """`events` distinct events over `skus` SKUs and four nodes, occurred in the last hour,
    in a shuffled order (as several WMS and OMS topics would interleave them)."""
    rng = random.Random(seed)
    start = time.time_ns() // 1000 - 3_600_000_000
    out: list[Event] = []
    for n in range(events):
        sku = f"SKU-{run}-{rng.randrange(skus)}"
        common = {
            "event_id": f"{run}-{n}",
            "occurred_us": start + rng.randrange(3_000_000_000),
            "source": "it",
            "node_id": rng.choice(NODES),
            "sku": sku,
        }
        out.append(_one(rng, common, n, run))
    rng.shuffle(out)
    return out


def _one(rng: random.Random, common: dict[str, object], n: int, run: str) -> Event:
    qty = rng.randint(1, 50)
    order = f"O-{run}-{rng.randrange(max(1, n // 4 + 1))}"
    supply = f"{run}-{rng.randrange(max(1, n // 6 + 1))}"
    other = rng.choice([x for x in NODES if x != common["node_id"]])
    kind = rng.choices(range(9), weights=(20, 15, 4, 14, 4, 6, 5, 5, 5))[0]
    c = common
    made: list[Event] = [
        Receipt(**c, qty=qty, asn_id=rng.choice([None, f"ASN-{supply}"])),  # type: ignore[arg-type]
        Pick(**c, qty=qty, order_id=rng.choice([None, order])),  # type: ignore[arg-type]
        CycleCount(**c, counted_qty=rng.randint(0, 300)),  # type: ignore[arg-type]
        OrderPlaced(**c, qty=qty, order_id=order),  # type: ignore[arg-type]
        OrderCancelled(**c, order_id=order),  # type: ignore[arg-type]
        Adjustment(**c, delta=rng.choice([-1, 1]) * qty, reason=rng.choice(list(AdjustmentReason))),  # type: ignore[arg-type]
        InboundExpected(**c, qty=qty, asn_id=f"ASN-{supply}"),  # type: ignore[arg-type]
        TransferShipped(**c, qty=qty, transfer_id=f"T-{supply}", to_node=other),  # type: ignore[arg-type]
        TransferReceived(**c, qty=qty, transfer_id=f"T-{supply}", from_node=other),  # type: ignore[arg-type]
    ]
    return made[kind]
