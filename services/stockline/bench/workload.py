"""The benchmark's event stream: a steady mix of every event type over many SKUs and nodes.

Events are plain JSON bytes built from a template (the benchmark produces a million of
them, and it measures stockline, not the producer); a unit test checks every one of them
decodes under the event contract.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from stockline.settings import INPUT_TOPICS

RECEIPTS, PICKS, COUNTS, ORDERS, ADJUSTMENTS, TRANSFERS, _RESERVATIONS = INPUT_TOPICS

# (event_type, topic, weight): orders and picks dominate, as in a fulfilment network
MIX = (
    ("order_placed", ORDERS, 26),
    ("pick", PICKS, 30),
    ("receipt", RECEIPTS, 18),
    ("order_cancelled", ORDERS, 3),
    ("adjustment", ADJUSTMENTS, 5),
    ("cycle_count", COUNTS, 3),
    ("inbound_expected", RECEIPTS, 5),
    ("transfer_shipped", TRANSFERS, 5),
    ("transfer_received", TRANSFERS, 5),
)


_MAX_OPEN = 100_000


@dataclass(frozen=True)
class Message:
    topic: str
    key: bytes
    value: bytes


def rfc3339(epoch_us: int) -> str:
    moment = datetime.fromtimestamp(epoch_us / 1e6, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Workload:
    """Deterministic by seed: the same seed, counts and start give the same messages.

    Every event changes the stock of its SKU, so each one is answered by an ATP snapshot
    (the latency probe waits for it): a cancellation names an order line placed earlier
    and not cancelled yet; with none open, an order is placed instead."""

    def __init__(self, *, skus: int, nodes: int, seed: int, run: str) -> None:
        self.skus = [f"SKU-{run}-{i:06d}" for i in range(skus)]
        self.nodes = [f"NODE-{i:02d}" for i in range(nodes)]
        self.run = run
        self._rng = random.Random(seed)
        self._kinds = [kind for kind, _, _ in MIX]
        self._topics = {kind: topic for kind, topic, _ in MIX}
        self._weights = [weight for _, _, weight in MIX]
        self._n = 0
        self._open: list[tuple[str, str, str]] = []  # (sku, node, order_id) placed, not cancelled

    def next_kind(self) -> str:
        """One event type drawn from the mix."""
        return self._rng.choices(self._kinds, self._weights)[0]

    @staticmethod
    def topic_index(topic: str) -> int:
        """Where `topic` (a default input topic name) stands in the input topic list."""
        return INPUT_TOPICS.index(topic)

    def messages(self, count: int, occurred_us: int) -> Iterator[Message]:
        """`count` messages, all stamped `occurred_us` (plus one microsecond each)."""
        kinds = self._rng.choices(self._kinds, self._weights, k=count)
        for offset, kind in enumerate(kinds):
            yield self.message(kind, occurred_us + offset)

    def message(self, kind: str, occurred_us: int) -> Message:
        self._n += 1
        rng, n = self._rng, self._n
        if kind == "order_cancelled" and not self._open:
            kind = "order_placed"
        sku, node = self.skus[rng.randrange(len(self.skus))], rng.choice(self.nodes)
        fields = self._fields(kind, rng)
        if kind == "order_cancelled":
            sku, node, fields["order_id"] = self._take_open(rng)
        elif kind == "order_placed":
            if len(self._open) >= _MAX_OPEN:
                self._take_open(rng)  # the oldest orders are long picked in a real network
            self._open.append((sku, node, str(fields["order_id"])))
        body: dict[str, object] = {
            "event_id": f"{self.run}-{n}",
            "event_type": kind,
            "schema_version": 1,
            "occurred_at": rfc3339(occurred_us),
            "source": "bench",
            "node_id": node,
            "sku": sku,
        }
        body.update(fields)
        return Message(self._topics[kind], sku.encode(), json.dumps(body).encode())

    def _take_open(self, rng: random.Random) -> tuple[str, str, str]:
        """A random open order line, no longer open."""
        index = rng.randrange(len(self._open))
        self._open[index], self._open[-1] = self._open[-1], self._open[index]
        return self._open.pop()

    def _fields(self, kind: str, rng: random.Random) -> dict[str, object]:
        qty = rng.randint(1, 20)
        ref = f"{self.run}-{rng.randrange(50_000)}"
        match kind:
            case "order_placed":
                return {"qty": qty, "order_id": f"O-{ref}"}
            case "pick":
                return {"qty": qty, "order_id": f"O-{ref}"} if rng.random() < 0.5 else {"qty": qty}
            case "receipt":
                return {"qty": qty * 5}
            case "order_cancelled":
                return {"order_id": f"O-{ref}"}
            case "adjustment":
                return {"delta": rng.choice((-1, 1)) * qty, "reason": "shrink"}
            case "cycle_count":
                return {"counted_qty": rng.randint(0, 500)}
            case "inbound_expected":
                return {"qty": qty * 5, "asn_id": f"ASN-{ref}"}
            case "transfer_shipped":
                return {"qty": qty, "transfer_id": f"T-{ref}", "to_node": rng.choice(self.nodes)}
            case _:
                return {"qty": qty, "transfer_id": f"T-{ref}", "from_node": rng.choice(self.nodes)}
