"""How the ledger store reaches Redis: the commands of a round trip packed by hiredis and
written at once, the replies read in order (an error reply comes back as its exception, in
place). redis-py's pipelines pack each argument in Python, which cost more than the Lua.

- `SingleTransport`: one Redis; a round trip is one connection.
- `ClusterTransport`: a Redis Cluster; the commands are grouped by the primary owning each
  one's slot (redis-py's slot map), and every node's group goes out on one of that node's
  connections, all groups concurrently. A command answered MOVED, ASK, TRYAGAIN or
  CLUSTERDOWN, or whose reply was lost with its node's connection, is sent again once the
  slot map is refreshed, until `retry_s` runs out (then `ClusterUnavailable`). Sending the
  ledger's calls again is safe: a re-run finds its offsets applied (redelivered) and its
  event ids seen, and changes nothing.

Both reload a script where a node answers NOSCRIPT (a restarted node, a promoted replica
or a new primary starts with an empty script cache) and resend only the calls that got
it. Both call a round trip's `on_fresh` before sending anything when a connection was
(re)made since the last successful call of it: the store checks there that Redis still has
what it wrote before writing over a gap.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import weakref
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from hiredis import pack_command
from redis.asyncio import Redis, RedisCluster
from redis.asyncio.cluster import ClusterNode
from redis.exceptions import (
    AskError,
    ClusterDownError,
    MovedError,
    NoScriptError,
    RedisClusterException,
    ResponseError,
    SlotNotCoveredError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from stockline.adapters.redis.replies import text

Command = tuple[str | int | bytes, ...]
OnReply = Callable[[int, Any], None]
OnFresh = Callable[[], Awaitable[None]]
_LOST = (RedisConnectionError, RedisTimeoutError, OSError)  # the connection went with the reply


class ClusterUnavailable(RedisConnectionError):
    """Some commands found no primary to run them within the retry budget (a failover or
    a slot migration that takes longer). The caller retries the whole batch later."""


class Transport(Protocol):
    """What the ledger store needs from a Redis deployment."""

    independent_nodes: bool
    """True when nodes can lose writes independently (a Cluster): a watermark on one
    node then says nothing about the shards of another."""

    def sha(self, src: str) -> str:
        """The script's SHA1, remembered so a node answering NOSCRIPT gets it loaded."""
        ...

    async def load(self, src: str) -> None:
        """Load a script on every primary now."""
        ...

    async def round_trip(
        self,
        commands: Sequence[Command],
        on_reply: OnReply,
        watched: int,
        on_fresh: OnFresh | None,
        *,
        raw: bool = False,
    ) -> list[Any]:
        """Every command's reply, in order; `on_reply(n, reply)` sees each of the first
        `watched` replies that is not an error as soon as it is read. With `raw`, replies
        come as bytes, undecoded (a script's packed reply), whatever the client decodes."""
        ...


def transport_for(redis: Redis | RedisCluster) -> Transport:
    """The client's one transport: made on first use, then shared by every adapter over the
    same client (each transport hooks the client's connections, so a second one would take
    the first one's notice of a new connection away)."""
    made = _TRANSPORTS.get(redis)
    if made is None:
        if isinstance(redis, RedisCluster):
            made = ClusterTransport(redis)
        else:
            made = SingleTransport(redis)
        _TRANSPORTS[redis] = made
    return made


_TRANSPORTS: weakref.WeakKeyDictionary[Redis | RedisCluster, Transport] = (
    weakref.WeakKeyDictionary()
)


class _Scripts:
    def __init__(self) -> None:
        self.sources: dict[str, str] = {}
        self._digests: dict[str, str] = {}

    def sha(self, src: str) -> str:
        digest = self._digests.get(src)
        if digest is None:
            digest = hashlib.sha1(src.encode(), usedforsecurity=False).hexdigest()
            self._digests[src] = digest
            self.sources[digest] = src
        return digest

    def missing(self, commands: Sequence[Command], replies: list[Any]) -> list[int]:
        """Indexes of the EVALSHA calls answered NOSCRIPT whose script is known."""
        return [
            n
            for n, reply in enumerate(replies)
            if isinstance(reply, NoScriptError) and text(commands[n][1]) in self.sources
        ]


async def _exchange(
    conn: Any, commands: Sequence[Command], on_reply: OnReply, raw: bool = False
) -> list[Any]:
    """Write every command at once and read every reply; `on_reply` sees each one that is
    not an error. A connection that failed mid-way is closed (a half-read reply stream
    must not be reused) and the error raised, with the replies read so far in `.replies`."""
    replies: list[Any] = []
    try:
        await conn.send_packed_command(b"".join(pack_command(c) for c in commands))  # type: ignore[arg-type]
        for n in range(len(commands)):
            try:
                replies.append(await conn.read_response(disable_decoding=raw))
            except ResponseError as exc:
                replies.append(exc)
                continue
            on_reply(n, replies[n])
    except BaseException as exc:
        await conn.disconnect()
        exc.replies = replies  # type: ignore[attr-defined]
        raise
    return replies


class SingleTransport:
    """One Redis server: a round trip is one connection from the client's pool."""

    independent_nodes = False

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._scripts = _Scripts()
        self._fresh = False
        redis.connection_pool.connection_kwargs["redis_connect_func"] = self._connected

    async def _connected(self, conn: Any) -> None:
        await conn.on_connect()
        self._fresh = True

    def sha(self, src: str) -> str:
        return self._scripts.sha(src)

    async def load(self, src: str) -> None:
        await self._redis.script_load(src)

    async def round_trip(
        self,
        commands: Sequence[Command],
        on_reply: OnReply,
        watched: int,
        on_fresh: OnFresh | None,
        *,
        raw: bool = False,
    ) -> list[Any]:
        pool = self._redis.connection_pool
        if on_fresh is not None:
            conn = await pool.get_connection()  # type: ignore[no-untyped-call]
            if not self._fresh:  # the usual case: send on the connection just taken
                replies = await self._exchange_on(conn, commands, on_reply, watched, raw)
                return await self._reloaded(commands, replies, on_reply, watched, raw)
            await pool.release(conn)  # connected now: the hook has run
            await on_fresh()
            self._fresh = False
        replies = await self._send(commands, on_reply, watched, raw)
        return await self._reloaded(commands, replies, on_reply, watched, raw)

    async def _reloaded(
        self,
        commands: Sequence[Command],
        replies: list[Any],
        on_reply: OnReply,
        watched: int,
        raw: bool,
    ) -> list[Any]:
        """`replies`, with the calls answered NOSCRIPT sent again once their script is
        loaded."""
        missing = self._scripts.missing(commands, replies)
        if missing:
            for sha in {text(commands[n][1]) for n in missing}:
                await self.load(self._scripts.sources[sha])
            again = await self._send(
                [commands[n] for n in missing],
                lambda k, reply: on_reply(missing[k], reply) if missing[k] < watched else None,
                len(missing),
                raw,
            )
            for n, reply in zip(missing, again, strict=True):
                replies[n] = reply
        return replies

    async def _send(
        self, commands: Sequence[Command], on_reply: OnReply, watched: int, raw: bool
    ) -> list[Any]:
        conn = await self._redis.connection_pool.get_connection()  # type: ignore[no-untyped-call]
        return await self._exchange_on(conn, commands, on_reply, watched, raw)

    async def _exchange_on(
        self, conn: Any, commands: Sequence[Command], on_reply: OnReply, watched: int, raw: bool
    ) -> list[Any]:
        """The exchange on a connection taken from the pool, which gets it back."""
        try:
            return await _exchange(
                conn, commands, lambda n, reply: on_reply(n, reply) if n < watched else None, raw
            )
        finally:
            await self._redis.connection_pool.release(conn)


class ClusterTransport:
    """A Redis Cluster: each node's share of a round trip on one of its connections, all
    nodes at once; redirections and lost replies retried (see the module doc)."""

    independent_nodes = True

    def __init__(self, cluster: RedisCluster, *, retry_s: float = 10.0) -> None:
        self._cluster = cluster
        self._scripts = _Scripts()
        self._fresh = False
        self._retry_s = retry_s
        self.retries = 0  # commands sent again (redirections, lost replies): for metrics and tests
        # every connection any caller of this client makes, now or later, marks the next
        # round trip fresh: a connection reused from another caller needs the check too
        hook = self._connected
        cluster.nodes_manager.connection_kwargs["redis_connect_func"] = hook
        for node in [*cluster.nodes_manager.startup_nodes.values(), *cluster.get_nodes()]:
            node.connection_kwargs["redis_connect_func"] = hook
            for conn in node._connections:
                conn.redis_connect_func = hook  # type: ignore[assignment]

    async def _connected(self, conn: Any) -> None:
        await conn.on_connect()
        self._fresh = True

    def sha(self, src: str) -> str:
        return self._scripts.sha(src)

    async def load(self, src: str) -> None:
        await self._cluster.initialize()
        for node in self._cluster.get_primaries():
            await node.execute_command("SCRIPT LOAD", src)

    async def round_trip(
        self,
        commands: Sequence[Command],
        on_reply: OnReply,
        watched: int,
        on_fresh: OnFresh | None,
        *,
        raw: bool = False,
    ) -> list[Any]:
        try:
            await self._cluster.initialize()  # before any routing (redis/redis-py#3935)
        except RedisClusterException as exc:  # no node answered
            raise ClusterUnavailable(str(exc)) from exc
        replies: list[Any] = [None] * len(commands)
        pending = list(range(len(commands)))
        asking: dict[int, str] = {}  # command -> the node an ASK redirected it to
        deadline = time.monotonic() + self._retry_s
        delay = 0.02
        while True:
            groups, unrouted = self._route(commands, pending, asking)
            conns = await self._connect(groups)
            if on_fresh is not None and self._fresh:
                self._release(conns)
                await on_fresh()
                self._fresh = False
                continue
            sent = _Sent(commands, replies, on_reply, watched, asking, raw)
            sent.lost(unrouted)
            await asyncio.gather(
                *(self._send_node(n, conns[n], g, sent) for n, g in groups.items())
            )
            self.retries += len(sent.again)
            pending, asking = sorted(sent.again), sent.asks
            if not pending:
                return replies
            if time.monotonic() > deadline:
                raise ClusterUnavailable(f"{len(pending)} commands found no primary in time")
            if sent.refresh:
                await self._refresh()
            if sent.wait:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.5)

    def _route(
        self, commands: Sequence[Command], pending: list[int], asking: dict[int, str]
    ) -> tuple[dict[ClusterNode, list[int]], list[int]]:
        """The commands grouped by the node to send them to, and those no node owns in the
        slot map (yet)."""
        groups: dict[ClusterNode, list[int]] = {}
        unrouted: list[int] = []
        for n in pending:
            node = self._cluster.get_node(node_name=asking[n]) if n in asking else None
            if node is None:
                asking.pop(n, None)
                try:
                    node = self._cluster.get_node_from_key(_routing_key(commands[n]))
                except SlotNotCoveredError:
                    node = None
            if node is None:
                unrouted.append(n)
            else:
                groups.setdefault(node, []).append(n)
        return groups, unrouted

    async def _connect(self, groups: dict[ClusterNode, list[int]]) -> dict[ClusterNode, Any]:
        """A connected connection per node (a new one has run the connect hook), or the
        error connecting to it."""
        conns = {node: node.acquire_connection() for node in groups}
        if not all(c.is_connected for c in conns.values()):
            self._fresh = True
        results = await asyncio.gather(
            *(c.connect() for c in conns.values()),  # type: ignore[no-untyped-call]
            return_exceptions=True,
        )
        out: dict[ClusterNode, Any] = {}
        for (node, conn), result in zip(conns.items(), results, strict=True):
            if isinstance(result, BaseException):
                node.release(conn)
                out[node] = result
            else:
                out[node] = conn
        return out

    @staticmethod
    def _release(conns: dict[ClusterNode, Any]) -> None:
        for node, conn in conns.items():
            if not isinstance(conn, BaseException):
                node.release(conn)

    async def _send_node(self, node: ClusterNode, conn: Any, group: list[int], sent: _Sent) -> None:
        """One node's commands (each redirected one preceded by ASKING); what must go
        again is noted in `sent`."""
        if isinstance(conn, BaseException):
            sent.lost(group)
            return
        batch: list[Command] = []
        where: list[int | None] = []  # batch position -> command index (None: ASKING)
        for n in group:
            if n in sent.asking:
                batch.append(("ASKING",))
                where.append(None)
            batch.append(sent.commands[n])
            where.append(n)

        def seen(k: int, reply: Any) -> None:
            n = where[k]
            if n is not None and n < sent.watched:
                sent.on_reply(n, reply)

        try:
            got = await _exchange(conn, batch, seen, sent.raw)
        except _LOST as exc:
            got = getattr(exc, "replies", [])
        finally:
            node.release(conn)
        sent.lost([n for n in where[len(got) :] if n is not None])
        for at, reply in zip(where, got, strict=False):
            if at is not None:
                sent.replies[at] = reply
                await self._judge(node, at, reply, sent)

    async def _judge(self, node: ClusterNode, n: int, reply: Any, sent: _Sent) -> None:
        """Final replies stay; redirections and refusals are noted to be sent again."""
        if isinstance(reply, MovedError):
            await self._cluster.nodes_manager.move_slot(reply)
            sent.again.add(n)
        elif isinstance(reply, AskError):
            sent.again.add(n)
            sent.asks[n] = f"{reply.host}:{reply.port}"
            if self._cluster.get_node(node_name=sent.asks[n]) is None:
                sent.refresh = True
        elif isinstance(reply, TryAgainError | ClusterDownError):
            sent.again.add(n)
            sent.wait = True
            sent.refresh = sent.refresh or isinstance(reply, ClusterDownError)
        elif isinstance(reply, NoScriptError):
            src = self._scripts.sources.get(text(sent.commands[n][1]))
            if src is None:
                return
            try:
                await node.execute_command("SCRIPT LOAD", src)
            except _LOST:
                sent.lost([n])
                return
            sent.again.add(n)

    async def _refresh(self) -> None:
        try:
            await self._cluster.nodes_manager.initialize()
        except (*_LOST, ResponseError, RedisClusterException):  # none answered: try later
            return


class _Sent:
    """One attempt of a cluster round trip: its inputs, and what must go again."""

    def __init__(
        self,
        commands: Sequence[Command],
        replies: list[Any],
        on_reply: OnReply,
        watched: int,
        asking: dict[int, str],
        raw: bool,
    ) -> None:
        self.commands, self.replies, self.on_reply, self.watched = (
            commands,
            replies,
            on_reply,
            watched,
        )
        self.asking, self.raw = asking, raw
        self.again: set[int] = set()
        self.asks: dict[int, str] = {}
        self.refresh = False  # the slot map is stale: a node went away or said CLUSTERDOWN
        self.wait = False  # back off before the next attempt

    def lost(self, commands: Sequence[int]) -> None:
        """Their replies went with the connection: unknown whether they ran."""
        if commands:
            self.again.update(commands)
            self.refresh = self.wait = True


def _routing_key(command: Command) -> str:
    name = text(command[0]).upper()
    return text(command[3] if name in ("EVALSHA", "EVAL", "FCALL") else command[1])
