"""Ledger shards (DESIGN.md section 8): a fixed hash of the SKU picks its shard, so every
process with the same shard count puts a SKU in the same one, and one atomic step can apply
several SKUs of one shard."""

from __future__ import annotations

import zlib
from functools import lru_cache


@lru_cache(maxsize=200_000)
def _crc(sku: str) -> int:
    return zlib.crc32(sku.encode())


def shard_of(sku: str, shards: int) -> int:
    """CRC-32 of the SKU's UTF-8 bytes modulo the shard count."""
    return _crc(sku) % shards
