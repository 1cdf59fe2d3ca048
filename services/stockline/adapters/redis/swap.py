"""Replace one key namespace by another: the last step of a rebuild."""

from __future__ import annotations

from redis.asyncio import Redis

from stockline.adapters.redis.keys import Keys

_BATCH = 1000


async def swap_namespace(redis: Redis, source: Keys, target: Keys) -> int:
    """Move every key under `source.prefix` to the same name under `target.prefix`,
    replacing what is there, and delete the target keys the source does not have.
    Returns how many keys moved. A key keeps its `{sku}` hash tag, so each RENAME stays
    in one Cluster slot. Run it with no worker writing to `target`."""
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


async def _rename(redis: Redis, keys: list[str], source: Keys, target: Keys) -> set[str]:
    if not keys:
        return set()
    pipe = redis.pipeline(transaction=False)
    renamed = {key: target.prefix + key[len(source.prefix) :] for key in keys}
    for old, new in renamed.items():
        pipe.rename(old, new)
    await pipe.execute()
    return set(renamed.values())


def _text(key: bytes | str) -> str:
    return key.decode() if isinstance(key, bytes) else key
