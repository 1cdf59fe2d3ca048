"""The rebuild's staging ledger on Redis: a fresh key namespace beside the live one,
renamed over it at the end (adapters/redis/swap.py)."""

from __future__ import annotations

import time

from redis.asyncio import Redis, RedisCluster

from stockline.adapters.redis.keys import Keys
from stockline.adapters.redis.store import RedisLedgerStore
from stockline.adapters.redis.swap import swap_namespace


class RedisStagingLedger:
    """`StagingLedger` on Redis: keys `<live prefix>-rebuild-<unix time>:...`, the live
    ledger's shard count, retention and demand history."""

    def __init__(
        self, redis: Redis | RedisCluster, live: Keys, *, retention_us: int, demand_days: int
    ) -> None:
        self._redis = redis
        self._live = live
        self._keys = Keys(f"{live.prefix}-rebuild-{int(time.time())}", live.shards)
        self._store = RedisLedgerStore(
            redis, keys=self._keys, retention_us=retention_us, demand_days=demand_days
        )

    @property
    def store(self) -> RedisLedgerStore:
        return self._store

    async def swap_in(self) -> int:
        return await swap_namespace(self._redis, self._keys, self._live)
