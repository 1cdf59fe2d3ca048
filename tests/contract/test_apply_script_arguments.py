"""The apply script checks every argument before its first write: a malformed call is
refused with an error naming what is wrong, and the ledger is left as it was."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgpack
import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError
from tests.unit.domain.ledger_events import at, pick, receipt

from stockline.adapters.redis.calls import CallEncoder
from stockline.adapters.redis.keys import Keys
from stockline.adapters.redis.store import _script
from stockline.service_layer.ports import NO_TERMS, Delivery, group_by_sku

pytestmark = pytest.mark.redis
WEEK_US = 7 * 86_400 * 1_000_000
NOW_US = at(60)


def _call(keys: Keys) -> tuple[list[str], list[Any]]:
    """A well-formed call: one SKU, a receipt and a pick at one node."""
    deliveries = [
        Delivery(receipt(5, event_id="r-1"), "inventory.receipts", 0, 10),
        Delivery(pick(2, event_id="p-1"), "inventory.picks", 0, 11),
    ]
    groups = list(group_by_sku(deliveries))
    shard = keys.shard(groups[0][0])
    names, args = CallEncoder(keys, WEEK_US, 56).encode(shard, groups, NOW_US, NO_TERMS, "")
    return names, args


def _with(change: Callable[[list[Any]], None]) -> Callable[[list[Any]], list[Any]]:
    def apply(payload: list[Any]) -> list[Any]:
        change(payload)
        return payload

    return apply


def _set(index: int, value: Any) -> Callable[[list[Any]], None]:
    def change(payload: list[Any]) -> None:
        payload[index] = value

    return change


# In the call above: [1 SKU, sku, ledger, demand, 1 node, node, buffer, channels, 2 events,
#   "r-1", tp, offset, occurred, 1 effect, "D", node, key, at, qty, 0, "p-1", ...]
BROKEN = {
    "a truncated payload": (_with(lambda p: p.pop()), "bad payload"),
    "a trailing entry": (_with(lambda p: p.append(0)), "bad payload"),
    "an offset as text": (_with(_set(11, "11")), "bad sku 1"),
    "a fractional quantity": (_with(_set(18, 2.5)), "bad sku 1"),
    "an effect on one of the shard's own keys": (_with(_set(16, 2)), "bad sku 1"),
    "a key index past KEYS": (_with(_set(16, 99)), "bad sku 1"),
    "an unknown effect kind": (_with(_set(14, "X")), "bad sku 1"),
    "a negative buffer": (_with(_set(6, -1)), "bad sku 1"),
    "an effect at a node without terms": (_with(_set(15, "elsewhere")), "bad sku 1"),
}


@pytest.mark.parametrize("case", list(BROKEN))
async def test_a_malformed_call_is_refused_before_any_write(
    redis_client: Redis, keys: Keys, case: str
) -> None:
    names, args = _call(keys)
    src = _script("apply.lua")
    payload = msgpack.unpackb(args[4])
    assert payload[9:15:5] == ["r-1", "D"]  # the layout the cases rely on
    broken, message = BROKEN[case]
    bad_args = [*args[:4], msgpack.packb(broken(list(payload)))]

    with pytest.raises(ResponseError, match=f"stockline apply: {message}"):
        await redis_client.eval(src, len(names), *names, *bad_args)
    assert [k async for k in redis_client.scan_iter(match=f"{keys.prefix}:*")] == []

    # the well-formed call writes (its reply is packed: not text): the refusal came from
    # the broken part
    command = ("EVAL", src, len(names), *names, *args)
    await redis_client.execute_command(*command, NEVER_DECODE=True)  # type: ignore[no-untyped-call]
    assert [k async for k in redis_client.scan_iter(match=f"{keys.prefix}:*")] != []
