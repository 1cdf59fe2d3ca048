"""Fixtures of the reliability suite (issue #7): sizes (short for CI, full with `--soak`), a
world whose Redis or Kafka may be the test's own, and readers of the resulting ledger.

Tests that kill Redis or a broker run their own redis-server / 3-broker cluster on free
ports; the shared local stack is only ever used, never stopped or flushed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from stockline import bootstrap
from tests.conftest import Stack
from tests.integration.conftest import (  # noqa: F401  (fixtures and the report hook, reused)
    pytest_runtest_makereport,
    workers,
)
from tests.integration.harness import World
from tests.reliability.checks import LedgerProbe
from tests.reliability.cluster import KafkaCluster, kafka_libs
from tests.reliability.servers import RedisServer


@dataclass(frozen=True)
class Sizes:
    """Short (CI) or soak (`--soak`) figures; `pick(short, soak)` chooses."""

    soak: bool

    def pick(self, short: Any, soak: Any) -> Any:
        return soak if self.soak else short


@dataclass
class TunedWorld(World):
    """A World whose workers get extra settings (e.g. replication_factor, session timeout)."""

    overrides: dict[str, Any] = field(default_factory=dict)

    def _fields(self) -> dict[str, Any]:
        return super()._fields() | self.overrides


@pytest.fixture
def sizes(request: pytest.FixtureRequest) -> Sizes:
    return Sizes(soak=bool(request.config.getoption("--soak")))


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own (AOF everysec), killed at the end."""
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.kill()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[KafkaCluster]:
    """A 3-broker KRaft cluster of this test's own, stopped at the end."""
    kafka = KafkaCluster(tmp_path / "kafka", kafka_libs()).start()
    yield kafka
    kafka.stop()


@pytest.fixture
def world(stack: Stack) -> World:
    """The shared stack (tests that kill Redis or brokers override this in their module)."""
    return TunedWorld(bootstrap=stack.kafka_bootstrap, redis_url=stack.redis_url)


@pytest.fixture
async def probe(world: World) -> AsyncIterator[LedgerProbe]:
    """Reads the world's ledger; deletes the world's keys at the end."""
    client = Redis.from_url(world.redis_url, decode_responses=True)
    reader = LedgerProbe(client, bootstrap.keys(world.settings))
    yield reader
    try:
        await reader.close(clean=True)
    except RedisError:  # the test's own Redis is already gone: nothing to clean
        await reader.redis.aclose()
