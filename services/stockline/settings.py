"""Configuration: one frozen object, read from STOCKLINE_* environment variables."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

INPUT_TOPICS = (
    "inventory.receipts",
    "inventory.picks",
    "inventory.cycle-counts",
    "inventory.orders",
    "inventory.adjustments",
    "inventory.transfers",
    "inventory.reservations",
)


class Settings(BaseSettings):
    """Every knob of a stockline process. Defaults run against the local stack."""

    model_config = SettingsConfigDict(env_prefix="STOCKLINE_", frozen=True, extra="ignore")

    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    """PLAINTEXT on loopback; SASL_SSL with SCRAM for a real cluster (docs/security.md)."""
    kafka_sasl_mechanism: Literal["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"] = "SCRAM-SHA-512"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    """CA bundle for SSL/SASL_SSL; the system's trust store when unset."""
    kafka_request_timeout_s: float = Field(40.0, gt=0, le=600)
    """How long every Kafka client waits for a broker's answer to one request (aiokafka's
    default; the hold log waits less, `api_publish_timeout_s`)."""
    redis_url: str = "redis://127.0.0.1:6379/0"
    """With `redis_mode=cluster`, any node of the cluster: the others are discovered."""
    redis_mode: Literal["single", "cluster"] = "single"
    """`cluster`: the ledger lives on a Redis Cluster (docs/scaling.md)."""
    redis_socket_timeout_s: float = Field(10.0, gt=0, le=600)
    """How long every Redis client waits to connect, or for a reply, before it gives up."""
    key_prefix: str = Field("stockline", pattern=r"^[A-Za-z0-9._:-]{1,64}$")
    consumer_group: str = "stockline-ledger"

    input_topics: tuple[str, ...] = INPUT_TOPICS
    atp_topic: str = "inventory.atp"
    """Per SKU: network and channel ATP (compacted, key = sku)."""
    atp_nodes_topic: str = "inventory.atp.nodes"
    """Per (sku, node): every bucket and ATP (compacted, key = `<sku>/<node_id>`)."""
    dlq_topic: str = "inventory.dlq"
    reorder_topic: str = "inventory.signals.reorder"
    rebalance_topic: str = "inventory.signals.rebalance"
    partitions: int = Field(6, ge=1, le=1024)
    replication_factor: int = Field(1, ge=1, le=16)

    network_file: Path | None = None
    """The network YAML (nodes, lanes, policies); without one: no safety stock, channels or
    signals."""
    demand_alpha: float = Field(0.1, gt=0, le=1)
    """Weight of the latest day in the exponentially weighted demand estimate (0.1: about
    ten days of memory; 0.2 let one lumpy day set weeks of lead-time demand, see
    docs/signals.md)."""
    demand_horizon_days: int = Field(28, ge=1, le=365)
    """Complete days the demand estimate looks back over (daily buckets are kept twice as long)."""

    retention_days: float = Field(7.0, gt=0)
    batch_max: int = Field(2000, ge=1, le=100_000)
    batch_within_s: float = Field(0.02, gt=0, le=10)
    ledger_shards: int = Field(256, ge=256, le=16_384)
    """Ledger shards: a SKU's keys carry the hash tag of its shard (a fixed hash of the SKU),
    so one script call applies several SKUs of one shard in one Redis Cluster slot.
    Changing it needs `stockline rebuild`."""

    review_interval_s: float = Field(60.0, ge=0, le=3600)
    """How often the worker checks whether its partitions' SKUs are due for the daily review
    without events (once per UTC day each); 0 turns the sweep off."""
    commit_interval_s: float = Field(1.0, gt=0, le=60)
    """How often processed offsets are committed to Kafka (also on rebalance and stop)."""
    session_timeout_s: float = Field(10.0, ge=6, le=300)
    """How soon a crashed worker's partitions move to a live one (Kafka group session)."""

    lag_interval_s: float = Field(5.0, gt=0, le=300)
    """How often consumer lag per partition is measured for /metrics."""

    data_dir: str = Field(default_factory=lambda: f"{tempfile.gettempdir()}/stockline")
    """Scratch space of the stream framework; the ledger itself lives only in Redis."""

    web_host: str = "127.0.0.1"
    web_port: int = Field(6066, ge=0, le=65535)

    api_host: str = "127.0.0.1"
    api_port: int = Field(8080, ge=0, le=65535)
    api_tokens: tuple[SecretStr, ...] = ()
    """Bearer tokens the read API accepts (JSON list); none here or in the file: no auth."""
    api_tokens_file: Path | None = None
    """A file of bearer tokens, one per line (a mounted secret); added to `api_tokens`."""
    api_max_body_bytes: int = Field(131_072, ge=1024, le=16_777_216)
    """Larger request bodies get 413 before they are read."""
    api_batch_max: int = Field(500, ge=1, le=500)
    """SKUs per batch lookup; DESIGN.md caps it at 500, a deployment may lower it."""
    api_cache_max_age_s: int | None = Field(None, ge=0, le=86_400)
    """`Cache-Control: max-age` of single-SKU reads; unset: no Cache-Control header."""
    api_read_cache_ms: int = Field(250, ge=0, le=60_000)
    """How long each API process keeps a SKU's read (0: never; every request reads Redis).
    An answer is then at most this old; its `as_of` says when it was read."""
    api_read_cache_skus: int = Field(10_000, ge=1, le=10_000_000)
    """SKUs each API process keeps at most while `api_read_cache_ms` > 0."""
    api_allow_anonymous_writes: bool = False
    """With no API token configured, reservation writes (POST, PATCH, DELETE) are refused
    (403) unless this is true: holding stock is not for anyone who can reach the port."""
    reservations_topic: str = "inventory.reservations"
    """Where the API logs the holds it decides; one of `input_topics`, so workers apply them."""
    api_publish_timeout_s: float = Field(5.0, gt=0, le=60)
    """How long a reservation write waits for Kafka's acknowledgement before answering 503."""
    api_expiry_interval_s: float = Field(0.5, gt=0, le=10)
    """How often the API process holding the sweep lease releases expired holds."""
    api_shutdown_timeout_s: int = Field(20, ge=1, le=600)
    """On SIGTERM, how long requests in flight may take to finish before they are cut."""

    @model_validator(mode="after")
    def _sasl_needs_credentials(self) -> Settings:
        if self.kafka_security_protocol.startswith("SASL_") and not (
            self.kafka_sasl_username and self.kafka_sasl_password
        ):
            raise ValueError(
                f"STOCKLINE_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                "STOCKLINE_KAFKA_SASL_USERNAME and STOCKLINE_KAFKA_SASL_PASSWORD"
            )
        return self

    @property
    def retention_us(self) -> int:
        return int(self.retention_days * 86_400 * 1_000_000)

    @property
    def output_topics(self) -> tuple[str, ...]:
        return (
            self.atp_topic,
            self.atp_nodes_topic,
            self.dlq_topic,
            self.reorder_topic,
            self.rebalance_topic,
        )
