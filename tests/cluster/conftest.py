"""Fixtures of the Redis Cluster suite: a cluster of the test's own (which a test may kill
-9 a primary of, or reshard), worlds whose workers run with `redis_mode=cluster`, and a
probe of the resulting ledger read through the cluster client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from stockline.adapters.redis.keys import Keys
from stockline.adapters.redis.replies import flat, snapshot_from_hash
from tests.cluster.servers import RedisClusterServers
from tests.conftest import Stack, cluster_client
from tests.integration.conftest import (  # noqa: F401  (fixtures and the report hook, reused)
    pytest_runtest_makereport,
    workers,
)
from tests.integration.harness import World
from tests.reliability.checks import Ledger
from tests.reliability.conftest import TunedWorld, sizes  # noqa: F401  (fixture, reused)


class ClusterProbe:
    """Reads one world's ledger and seen sets from the cluster (read-only, pipelined)."""

    def __init__(self, url: str, key_prefix: str) -> None:
        self.redis = cluster_client(url)
        self.keys = Keys(key_prefix)

    async def ledger(self, skus: list[str]) -> Ledger:
        pipe = self.redis.pipeline(transaction=False)
        for sku in skus:
            pipe.hgetall(self.keys.ledger(sku))
        out: Ledger = {}
        for sku, found in zip(skus, await pipe.execute(), strict=True):
            snapshot = snapshot_from_hash(sku, flat(found))
            if snapshot is not None:
                out[sku] = {
                    n: (s.on_hand, s.reserved, s.inbound) for n, s in snapshot.nodes.items()
                }
        return out

    async def seen(self, skus: list[str]) -> dict[str, set[str]]:
        """Per SKU, the event ids its shard's seen set holds (`<sku>|<event_id>`)."""
        shards = sorted({self.keys.shard(s) for s in skus})
        pipe = self.redis.pipeline(transaction=False)
        for shard in shards:
            pipe.zrange(self.keys.seen(shard), 0, -1)
        out: dict[str, set[str]] = {s: set() for s in skus}
        for members in await pipe.execute():
            for member in members:
                sku, _, event_id = member.partition("|")
                if sku in out:
                    out[sku].add(event_id)
        return out

    async def close(self) -> None:
        async for key in self.redis.scan_iter(match=f"{self.keys.prefix}:*", count=1000):
            await self.redis.unlink(key)
        await self.redis.aclose()


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[RedisClusterServers]:
    servers = RedisClusterServers(tmp_path / "redis-cluster").start()
    yield servers
    servers.stop()


@pytest.fixture
def world(stack: Stack, redis_cluster_url: str) -> World:
    """The shared Kafka and the shared cluster (tests that kill or reshard override it)."""
    return TunedWorld(
        bootstrap=stack.kafka_bootstrap,
        redis_url=redis_cluster_url,
        overrides={"redis_mode": "cluster"},
    )


@pytest.fixture
async def probe(world: World) -> AsyncIterator[ClusterProbe]:
    reader = ClusterProbe(world.redis_url, world.settings.key_prefix)
    yield reader
    await reader.close()
