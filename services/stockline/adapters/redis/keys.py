"""Every Redis key stockline writes, in one place.

A SKU's keys carry the `{sku}` hash tag, so they share one Redis Cluster slot and one
script can touch them all. SKU and node ids cannot contain braces or `|` (DESIGN.md
section 2), so the tag is unambiguous, and so is a `|` after a node id: ids of nodes may
contain `:`, and order, ASN and transfer ids are free text.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Keys:
    """Key builders under one namespace prefix (a deployment, or a test)."""

    prefix: str = "stockline"

    def ledger(self, sku: str) -> str:
        """Hash: version `v`; per node on_hand `|oh`, reserved `|rs`, inbound `|ib`, and
        what planning stored: armed `|ar`, safety stock `|ss`."""
        return f"{self.prefix}:{{{sku}}}:ledger"

    def seen(self, sku: str) -> str:
        """Sorted set: event_ids applied within the retention window, scored by apply time."""
        return f"{self.prefix}:{{{sku}}}:seen"

    def offsets(self, sku: str) -> str:
        """Hash: per topic-partition, the last offset applied to this SKU."""
        return f"{self.prefix}:{{{sku}}}:offsets"

    def counts(self, sku: str) -> str:
        """Hash: per node, the latest cycle count's occurred_us (`|cu`) and event_id (`|ci`)."""
        return f"{self.prefix}:{{{sku}}}:counts"

    def demand(self, sku: str) -> str:
        """Hash: `<node>|<day>` -> units demanded at the node on that UTC day number."""
        return f"{self.prefix}:{{{sku}}}:demand"

    def deltas(self, sku: str, node_id: str) -> str:
        """Sorted set: deltas newer than the latest count, `qty|event_id` scored by occurred_us."""
        return f"{self.prefix}:{{{sku}}}:deltas:{node_id}"

    def line(self, sku: str, node_id: str, order_id: str) -> str:
        """Hash: one order line's placed and picked sums and its cancelled flag."""
        return f"{self.prefix}:{{{sku}}}:line:{node_id}|{order_id}"

    def supply(self, sku: str, node_id: str, supply_id: str) -> str:
        """Hash: one inbound supply's (ASN or transfer) expected and received sums."""
        return f"{self.prefix}:{{{sku}}}:supply:{node_id}|{supply_id}"

    def node_skus(self, node_id: str) -> str:
        """Sorted set (all scores 0, so ordered by SKU): every SKU with a ledger at the node."""
        return f"{self.prefix}:node:{node_id}:skus"

    def watermarks(self) -> str:
        """Hash: per `topic|partition`, the offset below which every message is applied."""
        return f"{self.prefix}:watermarks"

    def sku_pattern(self) -> str:
        """Glob matching every SKU's ledger hash (for scans)."""
        return f"{self.prefix}:{{*}}:ledger"
