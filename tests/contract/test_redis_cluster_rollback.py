"""On a Redis Cluster each primary can lose its own tail in a failover: the store notices a
shard that went back even when the watermark hash, on another primary, kept its progress."""

from __future__ import annotations

import pytest
from redis.asyncio import RedisCluster
from tests.unit.domain.ledger_events import at, receipt

from stockline.adapters.redis.keys import Keys
from stockline.adapters.redis.store import RedisLedgerStore
from stockline.service_layer.ports import Delivery, LedgerRolledBack

pytestmark = pytest.mark.redis_cluster
WEEK_US = 7 * 86_400 * 1_000_000
TP = ("inventory.receipts", 0)
NOW_US = at(60)


async def disconnect(client: RedisCluster) -> None:
    """What a failover does to a client: every connection gone."""
    for node in client.get_nodes():
        await node.disconnect()


def skus_on_other_slots(keys: Keys, client: RedisCluster) -> tuple[str, str]:
    """A SKU whose shard lives on another primary than the watermark hash, and one more."""
    home = client.get_node_from_key(keys.watermarks())
    away = [
        f"SKU-{n}" for n in range(200) if client.get_node_from_key(keys.ledger(f"SKU-{n}")) != home
    ]
    return away[0], next(s for s in away[1:] if keys.shard(s) != keys.shard(away[0]))


async def a_shard_forgets(client: RedisCluster, keys: Keys, sku: str) -> None:
    """The SKU's shard was promoted from a replica that had none of its writes (its other
    primaries kept theirs, the watermark hash among them)."""
    tag = keys.tag(sku)
    lost = [key async for key in client.scan_iter(match=f"{tag}:*")]
    assert lost
    for key in lost:
        await client.delete(key)


async def test_a_shard_that_lost_its_tail_stops_the_next_batch(
    redis_cluster_client: RedisCluster, keys: Keys
) -> None:
    await redis_cluster_client.initialize()
    lost_sku, other = skus_on_other_slots(keys, redis_cluster_client)
    store = RedisLedgerStore(redis_cluster_client, keys=keys, retention_us=WEEK_US)
    await store.apply([Delivery(receipt(5, event_id="r-1", sku=other), *TP, 10)], NOW_US)
    await store.apply([Delivery(receipt(3, event_id="r-2", sku=lost_sku), *TP, 11)], NOW_US)
    await store.record_progress({TP: 11})

    await a_shard_forgets(redis_cluster_client, keys, lost_sku)
    await disconnect(redis_cluster_client)
    with pytest.raises(LedgerRolledBack) as caught:
        await store.apply([Delivery(receipt(1, event_id="r-3", sku=other), *TP, 12)], NOW_US)
    assert caught.value.lost == {TP: -1}  # the watermark (11) alone would have hidden it
    assert await redis_cluster_client.hget(keys.watermarks(), "inventory.receipts|0") == "11"


async def test_a_restarted_worker_resumes_from_the_shard_that_lost_its_tail(
    redis_cluster_client: RedisCluster, keys: Keys
) -> None:
    await redis_cluster_client.initialize()
    lost_sku, other = skus_on_other_slots(keys, redis_cluster_client)
    store = RedisLedgerStore(redis_cluster_client, keys=keys, retention_us=WEEK_US)
    batch = [
        Delivery(receipt(5, event_id="r-1", sku=other), *TP, 10),
        Delivery(receipt(3, event_id="r-2", sku=lost_sku), *TP, 11),
        Delivery(receipt(2, event_id="r-3", sku=other), *TP, 12),
    ]
    await store.apply(batch, NOW_US)
    await store.record_progress({TP: 12})
    await a_shard_forgets(redis_cluster_client, keys, lost_sku)

    fresh = RedisLedgerStore(redis_cluster_client, keys=keys, retention_us=WEEK_US)
    assert await fresh.watermarks([TP]) == {TP: -1}  # replay from the start, not from 13

    # the replay applies what the shard lost; the rest comes back redelivered
    result = await fresh.apply(batch, NOW_US)
    assert [o.value for o in result.outcomes] == ["redelivered", "applied", "redelivered"]
    await fresh.record_progress({TP: 12})
    assert await fresh.watermarks([TP]) == {TP: 12}


async def test_a_reconnect_without_loss_changes_nothing(
    redis_cluster_client: RedisCluster, keys: Keys
) -> None:
    store = RedisLedgerStore(redis_cluster_client, keys=keys, retention_us=WEEK_US)
    skus = [f"SKU-{n}" for n in range(30)]  # over all three primaries
    await store.apply(
        [Delivery(receipt(5, event_id=f"r-{s}", sku=s), *TP, n) for n, s in enumerate(skus)],
        NOW_US,
    )
    await store.record_progress({TP: len(skus) - 1})
    await disconnect(redis_cluster_client)
    result = await store.apply(
        [Delivery(receipt(3, event_id="again", sku="SKU-0"), *TP, len(skus))], NOW_US
    )
    assert [n.stock.on_hand for c in result.changes for n in c.nodes] == [8]
    await store.record_progress({TP: len(skus)})
    assert await store.watermarks([TP]) == {TP: len(skus)}


async def test_a_node_that_lost_the_script_gets_it_again(
    redis_cluster_client: RedisCluster, keys: Keys
) -> None:
    """A promoted replica or a new primary starts with an empty script cache."""
    store = RedisLedgerStore(redis_cluster_client, keys=keys, retention_us=WEEK_US)
    await store.apply([Delivery(receipt(5, event_id="r-1"), *TP, 10)], NOW_US)
    node = redis_cluster_client.get_node_from_key(keys.ledger("SKU-1"))
    assert node is not None
    await node.execute_command("SCRIPT FLUSH")
    result = await store.apply([Delivery(receipt(3, event_id="r-2"), *TP, 11)], NOW_US)
    assert [n.stock.on_hand for c in result.changes for n in c.nodes] == [8]
