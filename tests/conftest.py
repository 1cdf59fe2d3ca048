"""Shared fixtures: a real Kafka broker and a real Redis for tests marked `kafka`/`redis`.

When a Docker engine answers, testcontainers starts both; otherwise the local stack
(deploy/local/stack.sh) is started, or reused when already up. Either way the services
are real: integration tests never fake Kafka or Redis.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from hypothesis import settings
from redis.asyncio import Redis, RedisCluster

from stockline.adapters.redis.keys import Keys

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Stack:
    redis_url: str
    kafka_bootstrap: str


def _docker_answers() -> bool:
    if os.environ.get("STOCKLINE_TEST_NO_DOCKER") or shutil.which("docker") is None:
        return False
    try:
        probe = subprocess.run(["docker", "info"], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def _containers() -> Iterator[Stack]:
    from testcontainers.community.kafka import KafkaContainer
    from testcontainers.community.redis import RedisContainer

    with RedisContainer("redis:7.2") as redis, KafkaContainer().with_kraft() as kafka:
        host, port = redis.get_container_host_ip(), redis.get_exposed_port(6379)
        yield Stack(f"redis://{host}:{port}/0", kafka.get_bootstrap_server())


def _local_stack() -> Iterator[Stack]:
    subprocess.run([str(ROOT / "deploy/local/stack.sh"), "up"], check=True, timeout=600)
    redis_port = os.environ.get("STOCKLINE_REDIS_PORT", "6379")
    kafka_port = os.environ.get("STOCKLINE_KAFKA_PORT", "9092")
    yield Stack(f"redis://127.0.0.1:{redis_port}/0", f"127.0.0.1:{kafka_port}")


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """The real services; started once per test session. At its end the topics of every
    test world are deleted from the broker (thousands of them over many runs filled the
    broker's heap and slowed its metadata answers until clients timed out)."""
    if _docker_answers():
        yield from _containers()
    else:
        for started in _local_stack():
            yield started
            _delete_world_topics(started.kafka_bootstrap)


def _delete_world_topics(bootstrap: str) -> None:
    from tests.integration.harness import WORLD_RUNS

    async def delete() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            names = [t for t in await admin.list_topics() if t.split(".", 1)[0] in WORLD_RUNS]
            for start in range(0, len(names), 500):
                await admin.delete_topics(names[start : start + 500])
        finally:
            await admin.close()

    if WORLD_RUNS:
        try:
            asyncio.run(delete())
        except Exception as exc:  # a broker gone at the end keeps its topics: say so
            print(f"[tests] the test worlds' topics were not deleted: {exc!r}", file=sys.stderr)


@pytest.fixture(scope="session")
def redis_cluster_url() -> str:
    """Any node of the local 3-primary, 3-replica Redis Cluster (started, or reused, by
    deploy/local/stack.sh up --redis-cluster; tests only use it, never stop or flush it)."""
    subprocess.run(
        [str(ROOT / "deploy/local/stack.sh"), "up", "--redis-cluster"], check=True, timeout=600
    )
    port = os.environ.get("STOCKLINE_REDIS_CLUSTER_PORT", "7001")
    return f"redis://127.0.0.1:{port}/0"


def cluster_client(url: str) -> RedisCluster:
    """A cluster client built the way every stockline process builds one."""
    from stockline.bootstrap import redis_client
    from stockline.settings import Settings

    client = redis_client(Settings(redis_url=url, redis_mode="cluster"))
    assert isinstance(client, RedisCluster)
    return client


@pytest.fixture
async def redis_cluster_client(redis_cluster_url: str, keys: Keys) -> AsyncIterator[RedisCluster]:
    client = cluster_client(redis_cluster_url)
    yield client
    async for key in client.scan_iter(match=f"{keys.prefix}:*", count=1000):
        await client.unlink(key)
    await client.aclose()


@pytest.fixture
def keys() -> Keys:
    """A key namespace of this test's own, so tests never see each other's ledgers."""
    return Keys(f"test-{uuid.uuid4().hex[:12]}")


@pytest.fixture
async def redis_client(stack: Stack, keys: Keys) -> AsyncIterator[Redis]:
    client = Redis.from_url(stack.redis_url, decode_responses=True)
    yield client
    async for key in client.scan_iter(match=f"{keys.prefix}:*", count=1000):
        await client.unlink(key)
    await client.aclose()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--soak",
        action="store_true",
        default=False,
        help="run tests/reliability at the full sizes of issue #7 (long); default: short CI sizes",
    )


LONG_RUNNING = (ROOT / "tests" / "reliability", ROOT / "tests" / "cluster")
"""Tests that start brokers or clusters of their own and wait out kills and recoveries."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Longer per-test limits (pytest-timeout) for LONG_RUNNING than the suite's 300 s: a
    soak test produces for up to 10 minutes, then waits up to 15 for convergence."""
    limit = 3600 if config.getoption("--soak") else 900
    for item in items:
        long_running = any(item.path.is_relative_to(d) for d in LONG_RUNNING)
        if long_running and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(limit))


_FIGURES: dict[str, str] = {}


@pytest.fixture
def figures() -> dict[str, str]:
    """Measured figures a test reports; printed at the end of the run."""
    return _FIGURES


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _FIGURES:
        terminalreporter.section("stockline figures")
        for name, value in _FIGURES.items():
            terminalreporter.write_line(f"{name}: {value}")


settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
