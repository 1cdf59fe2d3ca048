"""Every Redis key stockline writes, in one place.

A SKU's keys carry the hash tag of its ledger shard, `{<shard>}`, where the shard is a fixed
hash of the SKU (CRC-32 modulo the shard count, DESIGN.md section 8): all keys of one SKU,
and of every SKU in the same shard, share one Redis Cluster slot, so one script call can
apply several SKUs. Changing the shard count moves SKUs between shards: it needs
`stockline rebuild`. SKU and node ids cannot contain braces, `|` or `/` (DESIGN.md section
2), so the tag is unambiguous, and so is a `|` after an id: order, ASN, transfer and
reservation ids are free text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stockline.domain.shards import shard_of

DEFAULT_SHARDS = 256


@dataclass(frozen=True, slots=True)
class Keys:
    """Key builders under one namespace prefix (a deployment, or a test)."""

    prefix: str = "stockline"
    shards: int = field(default=DEFAULT_SHARDS)

    def shard(self, sku: str) -> int:
        """The ledger shard of a SKU: the same on every process with the same shard count."""
        return shard_of(sku, self.shards)

    def tag(self, sku: str) -> str:
        """`<prefix>:{<shard>}`, the start of every key of the SKU."""
        return self.shard_tag(self.shard(sku))

    def shard_tag(self, shard: int) -> str:
        """`<prefix>:{<shard>}`, the start of every key of the shard's SKUs."""
        return f"{self.prefix}:{{{shard}}}"

    def seen(self, shard: int) -> str:
        """Sorted set: `<sku>|<event_id>` applied within the retention window, scored by
        apply time, for every SKU of the shard."""
        return f"{self.shard_tag(shard)}:seen"

    def offsets(self, shard: int) -> str:
        """Hash: per topic-partition, the last offset applied to the shard from there."""
        return f"{self.shard_tag(shard)}:offsets"

    def holds(self, shard: int) -> str:
        """Sorted set: the shard's open holds (holding units), `<sku>|<node>|<reservation_id>`
        scored by their expiry (µs), for the expiry sweep."""
        return f"{self.shard_tag(shard)}:holds"

    def of_sku(self, sku: str) -> SkuKeys:
        """The key builders of one SKU, its shard computed once."""
        return SkuKeys(self.tag(sku), sku)

    def ledger(self, sku: str) -> str:
        """Hash: version `v`; totals `t`; per node `<node>|`, its buckets, published ATP,
        buffer, channels and latest count packed in one value (apply.lua's header has the
        format); and what planning stored: the review day `<node>|rd`, the units that day's
        signals covered `<node>|cv` and gave `<node>|gv`, safety stock `<node>|ss`."""
        return self.of_sku(sku).ledger

    def demand(self, sku: str) -> str:
        return self.of_sku(sku).demand

    def deltas(self, sku: str, node_id: str) -> str:
        return self.of_sku(sku).deltas(node_id)

    def line(self, sku: str, node_id: str, order_id: str) -> str:
        return self.of_sku(sku).line(node_id, order_id)

    def supply(self, sku: str, node_id: str, supply_id: str) -> str:
        return self.of_sku(sku).supply(node_id, supply_id)

    def hold(self, sku: str, node_id: str, reservation_id: str) -> str:
        return self.of_sku(sku).hold(node_id, reservation_id)

    def node_skus(self, node_id: str) -> str:
        """Sorted set (all scores 0, so ordered by SKU): every SKU with a ledger at the node."""
        return f"{self.prefix}:node:{node_id}:skus"

    def watermarks(self) -> str:
        """Hash: per `topic|partition`, the offset below which every message is applied."""
        return f"{self.prefix}:watermarks"

    def reservation(self, reservation_id: str) -> str:
        """Hash: one reservation's record (adapters/redis/reservations.py has the fields);
        its own slot, outside every SKU's shard."""
        return f"{self.prefix}:resv:{reservation_id}"

    def expiry_lease(self) -> str:
        """String: the token of the API process sweeping expired holds, with a short TTL."""
        return f"{self.prefix}:expiry-lease"

    def sku_pattern(self) -> str:
        """Glob matching every SKU's ledger hash (for scans)."""
        return f"{self.prefix}:{{*}}:l:*"


@dataclass(frozen=True, slots=True)
class SkuKeys:
    """The keys of one SKU, all under its shard's tag."""

    tag: str
    sku: str

    @property
    def ledger(self) -> str:
        """Hash: see `Keys.ledger`."""
        return f"{self.tag}:l:{self.sku}"

    @property
    def demand(self) -> str:
        """Hash: `<node>|<day>` -> units demanded at the node on that UTC day number."""
        return f"{self.tag}:q:{self.sku}"

    def deltas(self, node_id: str) -> str:
        """Sorted set: deltas newer than the latest count, `qty|event_id` scored by occurred_us."""
        return f"{self.tag}:d:{self.sku}|{node_id}"

    def line(self, node_id: str, order_id: str) -> str:
        """String `placed|picked|cancelled`: one order line's sums and its cancelled flag."""
        return f"{self.tag}:o:{self.sku}|{node_id}|{order_id}"

    def supply(self, node_id: str, supply_id: str) -> str:
        """String `expected|received|0`: one inbound supply's (ASN or transfer) sums."""
        return f"{self.tag}:s:{self.sku}|{node_id}|{supply_id}"

    def hold(self, node_id: str, reservation_id: str) -> str:
        """String `placed|expires_us|ended`: one hold's placed sum, latest expiry and end."""
        return f"{self.tag}:h:{self.sku}|{node_id}|{reservation_id}"
