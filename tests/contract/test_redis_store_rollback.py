"""The Redis store notices when Redis came back without writes this process made."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis
from tests.unit.domain.ledger_events import at, receipt

from stockline.adapters.redis.keys import Keys
from stockline.adapters.redis.reservations import RedisReservationRecords
from stockline.adapters.redis.store import ReconnectedMidBatch, RedisLedgerStore
from stockline.service_layer.ports import Delivery, LedgerRolledBack

pytestmark = pytest.mark.redis
WEEK_US = 7 * 86_400 * 1_000_000
TP = ("inventory.receipts", 0)
NOW_US = at(60)


async def test_a_rolled_back_watermark_stops_the_next_batch_before_it_applies(
    redis_client: Redis, keys: Keys
) -> None:
    store = RedisLedgerStore(redis_client, keys=keys, retention_us=WEEK_US)
    await store.apply([Delivery(receipt(5, event_id="r-1"), *TP, 10)], NOW_US)
    await store.record_progress({TP: 10})

    # Redis restarts having lost the last writes: the watermark is back at 4
    await redis_client.hset(keys.watermarks(), "inventory.receipts|0", 4)
    await redis_client.connection_pool.disconnect()

    with pytest.raises(LedgerRolledBack) as caught:
        await store.apply([Delivery(receipt(3, event_id="r-2"), *TP, 11)], NOW_US)
    assert caught.value.lost == {TP: 4}
    snapshot = await store.snapshot("SKU-1")
    assert snapshot is not None
    assert snapshot.nodes["dc-1"].on_hand == 5  # the batch was not applied on top of the gap

    # once the caller replays from offset 5, the store carries on
    result = await store.apply([Delivery(receipt(3, event_id="r-2"), *TP, 11)], NOW_US)
    assert [n.stock.on_hand for c in result.changes for n in c.nodes] == [8]


async def test_a_reconnect_without_loss_changes_nothing(redis_client: Redis, keys: Keys) -> None:
    store = RedisLedgerStore(redis_client, keys=keys, retention_us=WEEK_US)
    await store.apply([Delivery(receipt(5, event_id="r-1"), *TP, 10)], NOW_US)
    await store.record_progress({TP: 10})
    await redis_client.connection_pool.disconnect()
    result = await store.apply([Delivery(receipt(3, event_id="r-2"), *TP, 11)], NOW_US)
    assert [n.stock.on_hand for c in result.changes for n in c.nodes] == [8]


async def test_a_reconnect_between_apply_and_progress_has_the_batch_applied_again(
    redis_client: Redis, keys: Keys
) -> None:
    store = RedisLedgerStore(redis_client, keys=keys, retention_us=WEEK_US)
    batch = [Delivery(receipt(5, event_id="r-1"), *TP, 10)]
    await store.apply(batch, NOW_US)

    # a failover to a replica the apply never reached: its keys are gone, the connection new
    tag = keys.tag("SKU-1")
    lost = [key async for key in redis_client.scan_iter(match=f"{tag}:*")]
    assert lost
    await redis_client.delete(*lost)
    await redis_client.connection_pool.disconnect()

    with pytest.raises(ReconnectedMidBatch):
        await store.record_progress({TP: 10})
    assert await store.watermarks([TP]) == {}  # no watermark over events Redis lacks

    # the consumer retries the whole batch: applied again, then its progress recorded
    result = await store.apply(batch, NOW_US)
    assert [n.stock.on_hand for c in result.changes for n in c.nodes] == [5]
    await store.record_progress({TP: 10})
    assert await store.watermarks([TP]) == {TP: 10}


async def test_reservation_records_on_the_same_client_leave_the_check_in_place(
    redis_client: Redis, keys: Keys
) -> None:
    """The API builds the ledger store and the reservation records on one client: a
    reconnect made by a records call is still noticed by the store's next write."""
    store = RedisLedgerStore(redis_client, keys=keys, retention_us=WEEK_US)
    records = RedisReservationRecords(redis_client, keys)
    await store.apply([Delivery(receipt(5, event_id="r-1"), *TP, 10)], NOW_US)
    await store.record_progress({TP: 10})

    await redis_client.hset(keys.watermarks(), "inventory.receipts|0", 4)
    await redis_client.connection_pool.disconnect()
    await records.claim("R-1", "digest", NOW_US, NOW_US + 1)  # reconnects

    with pytest.raises(LedgerRolledBack):
        await store.apply([Delivery(receipt(3, event_id="r-2"), *TP, 11)], NOW_US)
