"""The one place stockline's Kafka and Redis clients are made. Every client of every process
(worker, API, `topics`, `rebuild`, `demo`, `simulate`, `bench`) gets its connection from the
settings here: brokers, security (TLS, SASL), request timeout; the Redis URL, mode (single
or cluster) and socket timeout. A caller adds only what its use needs (acks, a group, a
batch size), never a connection option of its own.

aiokafka clients bind to the event loop running when they are made, so these are called
where a client is started (a service's `on_start`, an `async` command), not at import or
in the composition root's synchronous wiring.
"""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.helpers import create_ssl_context
from redis.asyncio import Redis, RedisCluster

from stockline.settings import Settings

REDIS_HEALTH_CHECK_S = 15
"""A single Redis' idle connections are pinged before reuse after this long (a restarted
Redis is noticed on the ping, not on a ledger write)."""


def kafka_options(settings: Settings, **use: Any) -> dict[str, Any]:
    """The connection options every Kafka client gets (brokers, security, request timeout),
    with a use's own options on top; ValueError if `use` would change a connection option
    (one caller cannot drop the security settings), a request timeout excepted."""
    connection = _kafka_connection(settings)
    clash = sorted((set(connection) - {"request_timeout_ms"}) & set(use))
    if clash:
        raise ValueError(f"connection options come from the settings, not the caller: {clash}")
    return connection | use


def _kafka_connection(settings: Settings) -> dict[str, Any]:
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "security_protocol": settings.kafka_security_protocol,
        "request_timeout_ms": int(settings.kafka_request_timeout_s * 1000),
    }
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        cafile = str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
        options["ssl_context"] = create_ssl_context(cafile=cafile)
    if settings.kafka_security_protocol.startswith("SASL_"):
        assert settings.kafka_sasl_password is not None  # the settings validator ensures it
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    return options


def kafka_producer(settings: Settings, **use: Any) -> AIOKafkaProducer:
    """A producer (not started) with the settings' connection and `use` (acks, linger...)."""
    return AIOKafkaProducer(**kafka_options(settings, **use))


def kafka_consumer(settings: Settings, *topics: str, **use: Any) -> AIOKafkaConsumer:
    """A consumer (not started), subscribed to `topics` if any, with the settings'
    connection and `use` (group, offsets, fetch sizes...)."""
    return AIOKafkaConsumer(*topics, **kafka_options(settings, **use))


def kafka_admin(settings: Settings) -> AIOKafkaAdminClient:
    """An admin client (not started) with the settings' connection."""
    return AIOKafkaAdminClient(**kafka_options(settings))


def redis_options(settings: Settings, *, decode_responses: bool = True) -> dict[str, Any]:
    """The options every Redis client gets (the URL carries host, database and user)."""
    return {"decode_responses": decode_responses, "socket_timeout": settings.redis_socket_timeout_s}


def redis_client(settings: Settings, *, decode_responses: bool = True) -> Redis | RedisCluster:
    """A single Redis, or with `redis_mode=cluster` redis-py's asyncio cluster client, which
    discovers every node from the one in the URL, keeps the slot map and follows MOVED/ASK
    for the commands it sends (the ledger store sends its own batches per node,
    adapters/redis/transport.py). A slot without a primary fails only the commands for it
    (`require_full_coverage=False`)."""
    options = redis_options(settings, decode_responses=decode_responses)
    if settings.redis_mode == "cluster":
        return RedisCluster.from_url(settings.redis_url, require_full_coverage=False, **options)
    return redis_node(settings, decode_responses=decode_responses)


def redis_node(settings: Settings, *, decode_responses: bool = True) -> Redis:
    """A client of the one Redis server the URL names, in either mode: for what is asked of
    a server rather than of the ledger (INFO, CONFIG)."""
    options = redis_options(settings, decode_responses=decode_responses)
    return Redis.from_url(settings.redis_url, health_check_interval=REDIS_HEALTH_CHECK_S, **options)
