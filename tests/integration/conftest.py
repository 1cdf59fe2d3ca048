from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from stockline import bootstrap
from stockline.adapters.redis.store import RedisLedgerStore
from tests.conftest import Stack
from tests.integration.harness import WorkerProcess, World


@pytest.fixture
def world(stack: Stack) -> World:
    return World(bootstrap=stack.kafka_bootstrap, redis_url=stack.redis_url)


@pytest.fixture
def workers(
    world: World, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[list[WorkerProcess]]:
    """Worker processes a test starts with `spawn(workers, world)`; all stopped at the end,
    and their logs printed when the test failed."""
    started: list[WorkerProcess] = []
    yield started
    for w in started:
        w.kill()
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        for w in started:
            print(f"--- {w.log_path.name}\n{w.log_tail()}")


def spawn(workers: list[WorkerProcess], world: World, log_dir: Path) -> WorkerProcess:
    worker = WorkerProcess(world, log_dir).start()
    workers.append(worker)
    return worker


@pytest.fixture
async def ledger(world: World) -> AsyncIterator[RedisLedgerStore]:
    """A reader of the world's ledger in Redis (the store adapter, used read-only)."""
    client = Redis.from_url(world.redis_url, decode_responses=True)
    settings = world.settings
    yield RedisLedgerStore(
        client, keys=bootstrap.keys(settings), retention_us=settings.retention_us
    )
    async for key in client.scan_iter(match=f"{settings.key_prefix}:*", count=1000):
        await client.unlink(key)
    await client.aclose()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
