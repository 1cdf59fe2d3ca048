"""Replace one key namespace by another: the last step of a rebuild."""

from __future__ import annotations

from redis.asyncio import Redis, RedisCluster
from redis.crc import key_slot

from stockline.adapters.redis.keys import Keys

_BATCH = 1000


async def swap_namespace(redis: Redis | RedisCluster, source: Keys, target: Keys) -> int:
    """Move every key under `source.prefix` to the same name under `target.prefix`,
    replacing what is there, and delete the target keys the source does not have.
    Returns how many keys moved. A shard's key keeps its `{<shard>}` hash tag, so its
    RENAME stays in one Cluster slot; on a Cluster, a key without one (the watermarks,
    the node index) changes slot with its name, so it is copied (DUMP, RESTORE REPLACE)
    and the source deleted. Run it with no worker writing to `target`."""
    moved: set[str] = set()
    batch: list[str] = []
    async for key in redis.scan_iter(match=f"{source.prefix}:*", count=_BATCH):
        batch.append(_text(key))
        if len(batch) >= _BATCH:
            moved |= await _rename(redis, batch, source, target)
            batch = []
    moved |= await _rename(redis, batch, source, target)
    stale = [
        _text(key)
        async for key in redis.scan_iter(match=f"{target.prefix}:*", count=_BATCH)
        if _text(key) not in moved
    ]
    for i in range(0, len(stale), _BATCH):
        await redis.unlink(*stale[i : i + _BATCH])
    return len(moved)


async def _rename(
    redis: Redis | RedisCluster, keys: list[str], source: Keys, target: Keys
) -> set[str]:
    if not keys:
        return set()
    renamed = {key: target.prefix + key[len(source.prefix) :] for key in keys}
    cluster = isinstance(redis, RedisCluster)
    moving = {o: n for o, n in renamed.items() if cluster and _slot(o) != _slot(n)}
    pipe = redis.pipeline(transaction=False)
    for old, new in renamed.items():
        if old not in moving:
            pipe.rename(old, new)
    for old in moving:
        pipe.dump(old)
    replies = await pipe.execute()
    dumps = replies[len(renamed) - len(moving) :]
    if moving:
        pipe = redis.pipeline(transaction=False)
        for (old, new), dumped in zip(moving.items(), dumps, strict=True):
            pipe.restore(new, 0, dumped, replace=True)
            pipe.unlink(old)
        await pipe.execute()
    return set(renamed.values())


def _slot(key: str) -> int:
    return key_slot(key.encode())


def _text(key: bytes | str) -> str:
    return key.decode() if isinstance(key, bytes) else key
