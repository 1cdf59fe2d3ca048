"""The ledger read side on Redis: what the HTTP API reads. It never writes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis, RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException, RedisError

from stockline.adapters.redis.keys import Keys
from stockline.adapters.redis.replies import snapshot_from_hash
from stockline.service_layer.ports import SkuSnapshot


class RedisLedgerReader:
    """A LedgerReader over the hashes `RedisLedgerStore` writes (works on Redis Cluster:
    a batch pipeline is split per slot owner by the cluster client)."""

    def __init__(self, redis: Redis | RedisCluster, *, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    async def snapshots(self, skus: Sequence[str]) -> list[SkuSnapshot | None]:
        """One pipeline of HGETALLs: one round trip for the whole batch."""
        if not skus:
            return []
        pipe = self._redis.pipeline(transaction=False)
        for sku in skus:
            pipe.hgetall(self._keys.ledger(sku))
        try:
            hashes: list[dict[Any, Any]] = await pipe.execute()
        except RedisClusterException as exc:  # a slot without a primary: the ledger is down
            raise RedisConnectionError(str(exc)) from exc
        return [
            snapshot_from_hash(sku, [x for kv in h.items() for x in kv])
            for sku, h in zip(skus, hashes, strict=True)
        ]

    async def node_skus(self, node_id: str, *, after: str | None, limit: int) -> list[str]:
        low = "-" if after is None else f"({after}"
        try:
            found: list[Any] = await self._redis.zrangebylex(
                self._keys.node_skus(node_id), low, "+", start=0, num=limit
            )
        except RedisClusterException as exc:
            raise RedisConnectionError(str(exc)) from exc
        return [s.decode() if isinstance(s, bytes) else str(s) for s in found]

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except (RedisError, RedisClusterException, OSError):
            return False
