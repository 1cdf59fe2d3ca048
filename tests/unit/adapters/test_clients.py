"""Every Kafka and Redis client stockline makes gets the settings' connection options
(plaintext on loopback by default; a SASL protocol without credentials is refused):
brokers, security and timeouts for each Kafka client kind, socket timeout and mode for
Redis; a caller adds options of its use but cannot replace a connection option."""

from __future__ import annotations

import ssl
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import ValidationError
from redis.asyncio import Redis, RedisCluster

from stockline.adapters import clients
from stockline.settings import Settings

SECURE = Settings(
    kafka_bootstrap="kafka-0.example:9093,kafka-1.example:9093",
    kafka_security_protocol="SASL_SSL",
    kafka_sasl_mechanism="SCRAM-SHA-256",
    kafka_sasl_username="stockline-worker",
    kafka_sasl_password="s3cret",
    kafka_request_timeout_s=7.5,
    redis_url="redis://worker:pw@redis-0.example:6379/2",
    redis_socket_timeout_s=3.0,
)

USES: dict[str, dict[str, Any]] = {
    "producer": {"acks": "all", "enable_idempotence": True, "linger_ms": 2},
    "consumer": {"group_id": "g", "enable_auto_commit": False, "fetch_max_wait_ms": 20},
    "admin": {},
}


def assert_connection(options: dict[str, Any]) -> None:
    assert options["bootstrap_servers"] == "kafka-0.example:9093,kafka-1.example:9093"
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-256"
    assert options["sasl_plain_username"] == "stockline-worker"
    assert options["sasl_plain_password"] == "s3cret"
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert options["request_timeout_ms"] == 7500


def test_a_sasl_protocol_without_credentials_is_refused_naming_the_variables() -> None:
    with pytest.raises(ValidationError, match="STOCKLINE_KAFKA_SASL_USERNAME"):
        Settings(kafka_security_protocol="SASL_PLAINTEXT")


def test_the_sasl_password_never_shows_in_the_settings_repr() -> None:
    assert "s3cret" not in repr(SECURE)  # logs print settings


@pytest.mark.parametrize("kind", sorted(USES))
def test_every_kafka_client_kind_gets_brokers_security_and_the_request_timeout(kind: str) -> None:
    options = clients.kafka_options(SECURE, **USES[kind])
    assert_connection(options)
    assert options.items() >= USES[kind].items()


async def test_the_builder_makes_each_kafka_kind_with_those_options() -> None:
    """aiokafka refuses an option a kind does not take: each kind is built, not started."""
    producer = clients.kafka_producer(SECURE, **USES["producer"])
    consumer = clients.kafka_consumer(SECURE, "inventory.receipts", **USES["consumer"])
    admin = clients.kafka_admin(SECURE)
    assert isinstance(producer, AIOKafkaProducer)
    assert isinstance(consumer, AIOKafkaConsumer)
    assert consumer.subscription() == {"inventory.receipts"}
    assert isinstance(admin, AIOKafkaAdminClient)
    await producer.stop()
    await consumer.stop()
    await admin.close()


def test_a_caller_cannot_replace_a_connection_option() -> None:
    with pytest.raises(ValueError, match="security_protocol"):
        clients.kafka_options(SECURE, security_protocol="PLAINTEXT")
    with pytest.raises(ValueError, match="bootstrap_servers"):
        clients.kafka_options(SECURE, bootstrap_servers="elsewhere:9092")


def test_a_use_may_wait_less_than_the_request_timeout() -> None:
    """The hold log answers 503 within its own publish timeout."""
    assert clients.kafka_options(SECURE, request_timeout_ms=1000)["request_timeout_ms"] == 1000


def test_defaults_are_aiokafkas_on_plaintext_loopback() -> None:
    assert clients.kafka_options(Settings(kafka_bootstrap="127.0.0.1:9092")) == {
        "bootstrap_servers": "127.0.0.1:9092",
        "security_protocol": "PLAINTEXT",
        "request_timeout_ms": 40_000,
    }


async def test_a_single_redis_gets_the_url_and_the_socket_timeout() -> None:
    redis = clients.redis_client(SECURE)
    assert isinstance(redis, Redis)
    kwargs = redis.connection_pool.connection_kwargs
    assert (kwargs["host"], kwargs["db"], kwargs["username"]) == ("redis-0.example", 2, "worker")
    assert kwargs["socket_timeout"] == 3.0
    assert kwargs["decode_responses"] is True
    assert kwargs["health_check_interval"] == clients.REDIS_HEALTH_CHECK_S
    await redis.aclose()


async def test_cluster_mode_gets_a_cluster_client_with_the_same_options() -> None:
    cluster = {"redis_mode": "cluster", "redis_url": "redis://worker:pw@redis-0.example:7001/0"}
    redis = clients.redis_client(SECURE.model_copy(update=cluster))
    assert isinstance(redis, RedisCluster)
    kwargs = redis.nodes_manager.connection_kwargs
    assert kwargs["socket_timeout"] == 3.0
    assert kwargs["username"] == "worker"
    assert redis.nodes_manager.require_full_coverage is False
    await redis.aclose()


async def test_a_node_client_names_the_urls_server_in_either_mode() -> None:
    node = clients.redis_node(
        SECURE.model_copy(update={"redis_mode": "cluster"}), decode_responses=False
    )
    assert isinstance(node, Redis)
    kwargs = node.connection_pool.connection_kwargs
    assert (kwargs["host"], kwargs["socket_timeout"]) == ("redis-0.example", 3.0)
    assert kwargs["decode_responses"] is False
    await node.aclose()
