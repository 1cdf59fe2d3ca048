"""Ledger shards (domain/shards.py): a SKU's shard must not move between processes or
releases, since the ledger already in Redis is laid out by it."""

from __future__ import annotations

import pytest

from stockline.domain.shards import shard_of

CHECK = 0xCBF43926
"""The published CRC-32 check value: the CRC of the nine bytes "123456789" (3421780262)."""


@pytest.mark.parametrize(
    ("shards", "shard"),
    [
        (1, 0),
        (16, 6),  # 3421780262 = 213861266 · 16 + 6
        (7, 5),  # 3421780262 = 488825751 · 7 + 5
        (2**32, CHECK),
    ],
)
def test_the_shard_is_the_crc32_of_the_sku_modulo_the_shard_count(shards: int, shard: int) -> None:
    assert shard_of("123456789", shards) == shard
