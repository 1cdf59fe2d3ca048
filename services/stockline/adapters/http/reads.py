"""Availability reads as the API answers them: each SKU read from the ledger and rendered
to its `AtpMessage` JSON once, then, with a TTL, kept per process for that long.

Freshness bound: with `ttl_s` > 0 an answer reflects the ledger as it was at most `ttl_s`
before the request (an entry expires `ttl_s` after its read started), and its `as_of` is
when the ledger was read, so a client sees how old it is. Reads of one SKU that miss
together share one ledger read. With `ttl_s` = 0 nothing is kept and every request
reads the ledger.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final

import orjson

from stockline.service_layer.availability import Availability, NodeFilter, atp_json, atp_message
from stockline.service_layer.ports import SkuSnapshot

DEFAULT_CACHE_SKUS: Final = 10_000


@dataclass(frozen=True, slots=True)
class SkuRead:
    """One SKU as read from the ledger, with its answer rendered once."""

    snapshot: SkuSnapshot
    body: bytes
    """The `AtpMessage` JSON of every node; `as_of` is the time of the read."""
    at_us: int

    @property
    def version(self) -> int:
        return self.snapshot.version

    def filtered(self, availability: Availability, where: NodeFilter) -> bytes:
        """The answer counting only the nodes `where` keeps (same `as_of`)."""
        message = atp_message(self.snapshot, availability.network, self.at_us, where)
        return message.model_dump_json().encode()


@dataclass(frozen=True, slots=True)
class _Entry:
    read: SkuRead | None
    expires: float


class SkuReads:
    """Reads SKUs through `availability`'s ledger reader and network view; see the module
    docstring for what is kept and for how long."""

    def __init__(
        self,
        availability: Availability,
        *,
        ttl_s: float = 0.0,
        max_skus: int = DEFAULT_CACHE_SKUS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.availability = availability
        self.ttl_s = ttl_s
        self.max_skus = max_skus
        self._monotonic = monotonic
        self._entries: dict[str, _Entry] = {}  # in order of expiry: refreshed ones move last
        self._pending: dict[str, asyncio.Future[SkuRead | None]] = {}

    async def one(self, sku: str) -> SkuRead | None:
        """The SKU's read, or None when no event ever touched it."""
        entry = self._entries.get(sku)
        if entry is not None and entry.expires > self._monotonic():
            return entry.read
        (read,) = await self.many([sku])
        return read

    async def many(self, skus: Sequence[str]) -> list[SkuRead | None]:
        """Each SKU's read, in the order asked; the misses in one ledger round trip."""
        now = self._monotonic()
        answers: dict[str, SkuRead | None] = {}
        waits: dict[str, asyncio.Future[SkuRead | None]] = {}
        misses: list[str] = []
        for sku in dict.fromkeys(skus):
            entry = self._entries.get(sku)
            if entry is not None and entry.expires > now:
                answers[sku] = entry.read
            elif (pending := self._pending.get(sku)) is not None:
                waits[sku] = pending
            else:
                misses.append(sku)
        if misses:
            answers |= await self._read(misses)
        for sku, pending in waits.items():
            answers[sku] = await asyncio.shield(pending)
        return [answers[sku] for sku in skus]

    async def batch_json(self, skus: Sequence[str], where: NodeFilter | None = None) -> bytes:
        """The `BatchAvailability` JSON of `skus` (each once, in order asked): every known
        SKU's answer as rendered, or counting only the nodes `where` keeps, inside an
        envelope serialized once around them."""
        unique = list(dict.fromkeys(skus))
        found = await self.many(unique)
        if where is None:
            items = [orjson.Fragment(read.body) for read in found if read is not None]
        else:
            items = [
                orjson.Fragment(read.filtered(self.availability, where))
                for read in found
                if read is not None
            ]
        not_found = [sku for sku, read in zip(unique, found, strict=True) if read is None]
        return orjson.dumps({"items": items, "not_found": not_found})

    async def _read(self, skus: list[str]) -> dict[str, SkuRead | None]:
        started = self._monotonic()
        futures = self._announce(skus) if self.ttl_s > 0 else {}
        try:
            snapshots = await self.availability.reader.snapshots(skus)
        except BaseException as exc:
            _fail(futures.values(), exc)
            raise
        finally:
            for sku in futures:
                self._pending.pop(sku, None)
        at_us = self.availability.clock()
        reads = {sku: self._render(s, at_us) for sku, s in zip(skus, snapshots, strict=True)}
        for sku, read in reads.items():
            if sku in futures:
                futures[sku].set_result(read)
                self._keep(sku, _Entry(read, started + self.ttl_s))
        return reads

    def _announce(self, skus: list[str]) -> dict[str, asyncio.Future[SkuRead | None]]:
        loop = asyncio.get_running_loop()
        futures = {sku: loop.create_future() for sku in skus}
        self._pending.update(futures)
        return futures

    def _render(self, snapshot: SkuSnapshot | None, at_us: int) -> SkuRead | None:
        if snapshot is None:
            return None
        return SkuRead(snapshot, atp_json(snapshot, self.availability.network, at_us), at_us)

    def _keep(self, sku: str, entry: _Entry) -> None:
        """Store, dropping expired entries from the front, and the oldest when full."""
        self._entries.pop(sku, None)
        now = self._monotonic()
        while self._entries:
            oldest = next(iter(self._entries))
            if self._entries[oldest].expires > now and len(self._entries) < self.max_skus:
                break
            del self._entries[oldest]
        self._entries[sku] = entry


def _fail(futures: Iterable[asyncio.Future[SkuRead | None]], exc: BaseException) -> None:
    """Hand the read's failure to requests waiting on it (marked retrieved: a waiter that
    went away must not leave an 'exception never retrieved' log behind)."""
    for future in futures:
        if isinstance(exc, asyncio.CancelledError):
            future.cancel()
        else:
            future.set_exception(exc)
            future.exception()
