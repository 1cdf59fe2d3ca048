"""Fixtures of the Redis Cluster suite: a cluster of the test's own (which a test may kill
-9 a primary of, or reshard), worlds whose workers run with `redis_mode=cluster`, and a
probe of the resulting ledger read through the cluster client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from stockline.adapters.redis.keys import Keys
from tests.cluster.servers import RedisClusterServers
from tests.conftest import Stack, cluster_client
from tests.integration.conftest import (  # noqa: F401  (fixtures and the report hook, reused)
    pytest_runtest_makereport,
    workers,
)
from tests.integration.harness import World
from tests.reliability.checks import LedgerProbe
from tests.reliability.conftest import TunedWorld, sizes  # noqa: F401  (fixture, reused)


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
async def probe(world: World) -> AsyncIterator[LedgerProbe]:
    """The world's ledger read through the cluster client; its keys deleted at the end."""
    reader = LedgerProbe(cluster_client(world.redis_url), Keys(world.settings.key_prefix))
    yield reader
    await reader.close(clean=True)
