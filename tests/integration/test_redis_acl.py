"""The Redis ACL users docs/security.md suggests: the worker's can apply, the API's can only
read. Checked against the real redis-server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import NoPermissionError

from stockline.adapters.redis.keys import Keys
from stockline.adapters.redis.reader import RedisLedgerReader
from stockline.adapters.redis.store import RedisLedgerStore
from stockline.service_layer.ports import Delivery
from tests.conftest import Stack
from tests.unit.domain.ledger_events import at, receipt

pytestmark = pytest.mark.redis
WEEK_US = 7 * 86_400 * 1_000_000
# the rules of docs/security.md, with this test's key prefix for `stockline`
WORKER_RULES = "resetkeys ~{prefix}:* resetchannels -@all +@read +@write +@scripting +ping"
API_RULES = "resetkeys ~{prefix}:* resetchannels -@all +@read +ping"


@pytest.fixture
async def users(stack: Stack, keys: Keys, redis_client: Redis) -> AsyncIterator[dict[str, str]]:
    suffix = uuid.uuid4().hex[:8]
    made = {}
    for role, rules in (("worker", WORKER_RULES), ("api", API_RULES)):
        name, password = f"stockline-{role}-{suffix}", uuid.uuid4().hex
        # the rules as ACL SETUSER takes them; redis-py leaves execute_command untyped
        await redis_client.execute_command(  # type: ignore[no-untyped-call]
            "ACL", "SETUSER", name, "on", f">{password}", *rules.format(prefix=keys.prefix).split()
        )
        made[role] = stack.redis_url.replace("redis://", f"redis://{name}:{password}@")
    yield made
    for url in made.values():
        await redis_client.acl_deluser(url.split("//")[1].split(":")[0])


async def test_the_worker_user_applies_and_the_api_user_reads_but_cannot_write(
    users: dict[str, str], keys: Keys
) -> None:
    worker = Redis.from_url(users["worker"], decode_responses=True)
    api = Redis.from_url(users["api"], decode_responses=True)
    try:
        store = RedisLedgerStore(worker, keys=keys, retention_us=WEEK_US)
        await store.apply(
            [Delivery(receipt(5, event_id="r-1"), "inventory.receipts", 0, 1)], at(60)
        )
        await store.record_progress({("inventory.receipts", 0): 1})

        (snapshot,) = await RedisLedgerReader(api, keys=keys).snapshots(["SKU-1"])
        assert snapshot is not None
        assert snapshot.nodes["dc-1"].on_hand == 5

        as_api = RedisLedgerStore(api, keys=keys, retention_us=WEEK_US)
        with pytest.raises(NoPermissionError):
            await as_api.apply(
                [Delivery(receipt(1, event_id="r-2"), "inventory.receipts", 0, 2)], at(60)
            )
    finally:
        await worker.aclose()
        await api.aclose()
