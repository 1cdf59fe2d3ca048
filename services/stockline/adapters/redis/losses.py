"""What this process knows Redis must still hold, and the check that it does.

On a single Redis a loss is the tail of one write stream, so the watermark (written after
the apply it vouches for) going back shows it. On a Cluster each primary can lose its own
tail in a failover, so every shard is checked too: per shard and partition the offset
the shard's offsets hash must have reached, from the replies this process read and from
`<shard>@<topic>|<partition>` fields recorded in the watermark hash (on another slot); a
shard below that lost its tail (docs/reliability.md). The store runs the check before
anything goes out on a new connection.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from redis.exceptions import ResponseError

from stockline.adapters.redis.keys import Keys
from stockline.adapters.redis.replies import pairs
from stockline.adapters.redis.transport import Command
from stockline.service_layer.ports import LedgerRolledBack, TopicPartition

Offsets = dict[str, int]
"""Offsets by `topic|partition` field."""
Read = Callable[[Sequence[Command]], Awaitable[list[Any]]]
"""A round trip that is not itself checked (the check's own reads)."""


class LossCheck:
    """The offsets this process made Redis reach: the watermarks it raised and, with
    `per_shard` (a Cluster), what each shard answered it had applied."""

    def __init__(self, keys: Keys, read: Read, *, per_shard: bool) -> None:
        self._keys = keys
        self._read = read
        self.per_shard = per_shard
        self._written: Offsets = {}  # watermark fields this process raised, and to what
        self._applied: dict[int, Offsets] = {}  # per shard, what it answered it applied
        self._unrecorded: dict[int, Offsets] = {}  # of those, not in the watermark hash yet

    def reached(self, shard: int, offsets: Offsets) -> None:
        """A shard answered a call: its offsets hash now holds at least `offsets`."""
        if not self.per_shard:
            return
        for table in (self._applied, self._unrecorded):
            _raise(table.setdefault(shard, {}), offsets)

    def take_unrecorded(self) -> dict[int, Offsets]:
        """The shards' offsets to record with the next watermarks (empty on one Redis)."""
        taken, self._unrecorded = self._unrecorded, {}
        return taken

    def give_back(self, taken: dict[int, Offsets]) -> None:
        """Recording `taken` failed: they go with the next attempt."""
        for shard, offsets in taken.items():
            _raise(self._unrecorded.setdefault(shard, {}), offsets)

    def wrote(self, offsets: Mapping[TopicPartition, int]) -> None:
        """The watermarks of `offsets` were raised."""
        _raise(self._written, {f"{t}|{p}": offset for (t, p), offset in offsets.items()})

    async def check(self) -> None:
        """Raise LedgerRolledBack when a watermark this process raised is lower in Redis
        now, or a shard's offsets are below what it answered this process: Redis came back
        without its last writes, and applying more on top would skip them."""
        lost: dict[TopicPartition, int] = {}
        if self._written:
            fields = sorted(self._written)
            (stored,) = await self._read([("HMGET", self._keys.watermarks(), *fields)])
            for field, value in zip(fields, stored, strict=True):
                now = -1 if value is None else int(value)
                if now < self._written[field]:
                    lost[partition_of(field)] = now
                    self._written[field] = now
        for tp, now in (await self.shards_lost(self._applied)).items():
            lost[tp] = min(now, lost.get(tp, now))
        if lost:
            raise LedgerRolledBack(lost)

    async def shards_lost(self, expected: dict[int, Offsets]) -> dict[TopicPartition, int]:
        """Per partition, the lowest offset a shard still has where it has less than
        `expected` (which is lowered to what it has)."""
        shards = [s for s in sorted(expected) if expected[s]]
        if not shards:
            return {}
        fields = {s: sorted(expected[s]) for s in shards}
        stored = await self._read([("HMGET", self._keys.offsets(s), *fields[s]) for s in shards])
        lost: dict[TopicPartition, int] = {}
        for shard, values in zip(shards, stored, strict=True):
            if isinstance(values, ResponseError):
                raise values
            for field, value in zip(fields[shard], values, strict=True):
                now = -1 if value is None else int(value)
                if now < expected[shard][field]:
                    tp = partition_of(field)
                    lost[tp] = min(now, lost.get(tp, now))
                    expected[shard][field] = now
        return lost


def split_marks(stored: list[Any], fields: set[str]) -> tuple[Offsets, dict[int, Offsets]]:
    """The watermark hash's fields: watermarks of `fields`, and per shard the offsets
    recorded for them (`<shard>@<topic>|<partition>`)."""
    marks: Offsets = {}
    expected: dict[int, Offsets] = {}
    for name, value in pairs(stored):
        shard, at, field = name.partition("@")
        if not at and shard in fields:
            marks[shard] = int(value)
        elif at and field in fields:
            expected.setdefault(int(shard), {})[field] = int(value)
    return marks, expected


def partition_of(field: str) -> TopicPartition:
    topic, _, partition = field.rpartition("|")
    return topic, int(partition)


def _raise(known: Offsets, offsets: Offsets) -> None:
    for field, offset in offsets.items():
        known[field] = max(offset, known.get(field, -1))
