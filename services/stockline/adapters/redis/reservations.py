"""Reservation records and the expiry sweep lease in Redis (single Redis or Cluster: every
call touches one key).

A record is a hash at `Keys.reservation(rid)`: `d` the body digest, `s` the state
(pending, failed, answered), `a` the attempt, `dl` the pending claim's deadline (µs), `o`
the outcome and `b` the answer's JSON once answered, `x` the holds' expiry (µs), `r` = 1
once released, `e` = 1 once the sweeper expired its holds, `n` the extension counter.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any, Final

from redis.asyncio import Redis, RedisCluster

from stockline.adapters.redis.keys import Keys
from stockline.adapters.redis.transport import Command, transport_for
from stockline.service_layer.reservation_ports import (
    Outcome,
    RecordState,
    ReservationRecord,
)

PENDING_KEEP_MS: Final = 86_400_000
"""A claim nobody answered is kept a day (a later request takes it over after its deadline)."""

_CLAIM: Final = """
local f = redis.call('HMGET', KEYS[1], 's', 'd', 'a', 'dl')
local attempt = 1
if f[1] then
  if f[1] == 'pending' and f[2] == ARGV[1] and tonumber(f[4]) <= tonumber(ARGV[2]) then
    attempt = tonumber(f[3])
  else
    return {0, redis.call('HGETALL', KEYS[1])}
  end
  redis.call('DEL', KEYS[1])
end
redis.call('HSET', KEYS[1], 'd', ARGV[1], 's', 'pending', 'a', attempt, 'dl', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {1, attempt}
"""

_ANSWER: Final = """
redis.call('HSET', KEYS[1], 's', 'answered', 'o', ARGV[1], 'b', ARGV[2], 'x', ARGV[3])
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
return 1
"""

_RAISE_EXPIRY: Final = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if tonumber(redis.call('HGET', KEYS[1], 'x') or '0') < tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'x', ARGV[1])
  redis.call('PEXPIREAT', KEYS[1], ARGV[2])
end
return 1
"""

_FLAG_IF_EXISTS: Final = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], '1')
return 1
"""

_LEASE: Final = """
local holder = redis.call('GET', KEYS[1])
if holder == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""


class RedisReservationRecords:
    """`ReservationRecords` on Redis; the claim is one script (atomic). Every script goes
    through the ledger's transport (EVALSHA packed by hiredis, reloaded where a node
    answers NOSCRIPT); plain reads and the counter through the client."""

    def __init__(self, redis: Redis | RedisCluster, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._transport = transport_for(redis)
        self._claim_sha = self._transport.sha(_CLAIM)
        self._answer_sha = self._transport.sha(_ANSWER)
        self._raise_expiry_sha = self._transport.sha(_RAISE_EXPIRY)
        self._flag_sha = self._transport.sha(_FLAG_IF_EXISTS)

    async def claim(
        self, reservation_id: str, digest: str, now_us: int, deadline_us: int
    ) -> tuple[ReservationRecord, bool]:
        key = self._keys.reservation(reservation_id)
        claimed, found = await self._script(
            self._claim_sha, key, digest, now_us, deadline_us, PENDING_KEEP_MS
        )
        if claimed:
            pending = RecordState.PENDING
            return ReservationRecord(reservation_id, digest, pending, int(found), deadline_us), True
        fields = dict(zip(found[::2], found[1::2], strict=True))
        return _record(reservation_id, fields), False

    async def get(self, reservation_id: str) -> ReservationRecord | None:
        fields = await self._redis.hgetall(self._keys.reservation(reservation_id))
        return _record(reservation_id, fields) if fields else None

    async def answer(
        self,
        record: ReservationRecord,
        outcome: Outcome,
        answer: bytes,
        expires_us: int,
        keep_until_us: int,
    ) -> None:
        key = self._keys.reservation(record.reservation_id)
        await self._script(
            self._answer_sha, key, outcome.value, answer, expires_us, keep_until_us // 1000
        )

    async def _script(self, sha: str, key: str, *args: str | int | bytes) -> Any:
        (reply,) = await self._scripts([("EVALSHA", sha, 1, key, *args)])
        return reply

    async def _scripts(self, calls: Sequence[Command]) -> list[Any]:
        """The calls' replies, in one round trip; the first error reply is raised."""
        replies = await self._transport.round_trip(calls, _ignore, 0, None)
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return replies

    async def next_extension(self, reservation_id: str) -> int:
        key = self._keys.reservation(reservation_id)
        return int(await self._redis.hincrby(key, "n", 1))

    async def set_expiry(self, reservation_id: str, expires_us: int, keep_until_us: int) -> None:
        key = self._keys.reservation(reservation_id)
        await self._script(self._raise_expiry_sha, key, expires_us, keep_until_us // 1000)

    async def mark_released(self, reservation_id: str) -> None:
        await self._script(self._flag_sha, self._keys.reservation(reservation_id), "r")

    async def mark_expired(self, reservation_ids: Iterable[str]) -> None:
        keys = [self._keys.reservation(rid) for rid in reservation_ids]
        if keys:
            await self._scripts([("EVALSHA", self._flag_sha, 1, key, "e") for key in keys])


def _ignore(_n: int, _reply: Any) -> None:
    pass


def _record(reservation_id: str, fields: dict[Any, Any]) -> ReservationRecord:
    def text(name: str) -> str:
        value = fields.get(name, "")
        return value.decode() if isinstance(value, bytes) else str(value)

    outcome = text("o")
    return ReservationRecord(
        reservation_id=reservation_id,
        digest=text("d"),
        state=RecordState(text("s")),
        attempt=int(text("a") or 0),
        deadline_us=int(text("dl") or 0),
        outcome=Outcome(outcome) if outcome else None,
        answer=text("b").encode(),
        expires_us=int(text("x") or 0),
        released=text("r") == "1",
        expired=text("e") == "1",
    )


class RedisSweepLease:
    """`SweepLease` on one Redis key: taken with SET NX PX, renewed by its holder only."""

    def __init__(self, redis: Redis | RedisCluster, keys: Keys, ttl_ms: int = 1500) -> None:
        self._key = keys.expiry_lease()
        self._token = uuid.uuid4().hex
        self._ttl_ms = ttl_ms
        self._script = redis.register_script(_LEASE)

    async def acquire(self) -> bool:
        return bool(await self._script(keys=[self._key], args=[self._token, self._ttl_ms]))
