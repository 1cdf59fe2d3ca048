"""CPU of the worker, Redis and the broker over a window of events, from samples taken at
its edges: worker and broker from /proc, Redis from `INFO all` (cpu, commandstats,
persistence, stats)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import Redis, RedisCluster

from stockline.adapters.clients import redis_client, redis_node
from stockline.bench import redis_stats
from stockline.bench.procstat import ProcessTree, find_broker
from stockline.bench.redis_stats import RedisSample, RedisWindow
from stockline.settings import Settings

_LOCAL = frozenset({"127.0.0.1", "localhost", "::1", "[::1]", "0.0.0.0"})


@dataclass(frozen=True)
class Sample:
    at: float
    """time.monotonic() when taken"""
    events: float
    """events the worker had consumed"""
    worker_cpu_s: float
    broker_cpu_s: float | None
    redis: RedisSample


@dataclass(frozen=True)
class Usage:
    """Per event over a window; the broker is None when it does not run on this machine."""

    events: float
    seconds: float
    worker_cpu_us: float
    redis_cpu_us: float
    redis_fork_cpu_us: float
    broker_cpu_us: float | None
    redis: RedisWindow

    @property
    def per_s(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    def aof_bytes_per_event(self) -> float | None:
        if self.redis.aof_bytes is None or not self.events:
            return None
        return self.redis.aof_bytes / self.events

    def commands_per_event(self) -> float:
        return self.redis.total_calls / self.events if self.events else 0.0

    def script_calls_per_event(self) -> float:
        return self.redis.script_calls / self.events if self.events else 0.0

    def top_commands(self, n: int = 8) -> dict[str, float]:
        return {name: calls / self.events for name, calls in self.redis.top_calls(n)}

    def per_primary(self) -> dict[str, dict[str, float]]:
        """On a Cluster, per primary: its Redis CPU µs and commands per event."""
        if not self.events:
            return {}
        return {
            name: {
                "cpu_us_per_event": node.cpu_s * 1e6 / self.events,
                "commands_per_event": node.total_calls / self.events,
            }
            for name, node in sorted(self.redis.by_node.items())
        }


def usage(before: Sample, after: Sample) -> Usage:
    events = after.events - before.events
    per_us = 1e6 / events if events > 0 else 0.0
    redis = redis_stats.window(before.redis, after.redis)
    broker = None
    if before.broker_cpu_s is not None and after.broker_cpu_s is not None:
        broker = (after.broker_cpu_s - before.broker_cpu_s) * per_us
    return Usage(
        events=events,
        seconds=after.at - before.at,
        worker_cpu_us=(after.worker_cpu_s - before.worker_cpu_s) * per_us,
        redis_cpu_us=redis.cpu_s * per_us,
        redis_fork_cpu_us=redis.fork_cpu_s * per_us,
        broker_cpu_us=broker,
        redis=redis,
    )


def broker_port(bootstrap: str) -> int | None:
    """The port of the first bootstrap server when it runs on this machine."""
    host, _, port = bootstrap.split(",")[0].strip().rpartition(":")
    return int(port) if host in _LOCAL and port.isdigit() else None


class Sampler:
    """Samples the broker's process and Redis: the URL's server, or on a Cluster every
    primary (found when first sampled; the figures are their sums, each kept by address)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.redis = redis_node(settings, decode_responses=False)  # INFO of the URL's server
        self._primaries: dict[str, Redis] | None = None
        port = broker_port(settings.kafka_bootstrap)
        pid = find_broker(port) if port is not None else None
        self._broker = ProcessTree(pid) if pid is not None else None

    async def redis_sample(self) -> RedisSample:
        if self._settings.redis_mode != "cluster":
            return redis_stats.sample(await self.redis.info("all"))
        if self._primaries is None:
            self._primaries = await primaries(self._settings)
        return redis_stats.combined(
            {name: redis_stats.sample(await c.info("all")) for name, c in self._primaries.items()}
        )

    async def take(self, worker: ProcessTree, events: float) -> Sample:
        return Sample(
            at=time.monotonic(),
            events=events,
            worker_cpu_s=worker.cpu_s(),
            broker_cpu_s=self._broker.cpu_s() if self._broker is not None else None,
            redis=await self.redis_sample(),
        )

    async def aof_config(self) -> str:
        from redis.exceptions import ResponseError

        try:
            config = {
                n: str((await self.redis.config_get(n)).get(n, "?")) for n in redis_stats.AOF_CONFIG
            }
        except ResponseError:  # CONFIG refused (ACL, managed Redis)
            config = {}
        return redis_stats.describe_aof(config)

    async def close(self) -> None:
        await self.redis.aclose()
        for client in (self._primaries or {}).values():
            await client.aclose()


async def primaries(settings: Settings) -> dict[str, Redis]:
    """A client of each primary of the Cluster the settings name, by `host:port`."""
    cluster = redis_client(settings, decode_responses=False)
    if not isinstance(cluster, RedisCluster):
        raise TypeError("primaries() needs settings with redis_mode=cluster")
    try:
        await cluster.initialize()
        nodes = sorted((n.host, n.port) for n in cluster.get_primaries())
    finally:
        await cluster.aclose()
    url = urlsplit(settings.redis_url)
    user = url.netloc.rpartition("@")[0]  # the URL's credentials, for every node
    out: dict[str, Redis] = {}
    for host, port in nodes:
        at = f"{user}@{host}:{port}" if user else f"{host}:{port}"
        node = settings.model_copy(update={"redis_url": urlunsplit(url._replace(netloc=at))})
        out[f"{host}:{port}"] = redis_node(node, decode_responses=False)
    return out
