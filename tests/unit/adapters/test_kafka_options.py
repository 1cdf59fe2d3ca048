"""Kafka security settings reach every client; a SASL protocol without credentials is refused."""

from __future__ import annotations

import ssl

import pytest
from pydantic import ValidationError

from stockline.adapters.clients import kafka_options as client_options
from stockline.settings import Settings


def test_plaintext_on_loopback_by_default() -> None:
    assert client_options(Settings(kafka_bootstrap="127.0.0.1:9092")) == {
        "bootstrap_servers": "127.0.0.1:9092",
        "security_protocol": "PLAINTEXT",
        "request_timeout_ms": 40_000,
    }


def test_sasl_scram_over_tls_carries_mechanism_credentials_and_a_tls_context() -> None:
    settings = Settings(
        kafka_bootstrap="kafka-0.example:9093",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="stockline-worker",
        kafka_sasl_password="s3cret",
    )
    options = client_options(settings)
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "stockline-worker"
    assert options["sasl_plain_password"] == "s3cret"
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert "s3cret" not in repr(settings)  # the password never shows in logs


def test_a_sasl_protocol_without_credentials_is_refused_naming_the_variables() -> None:
    with pytest.raises(ValidationError, match="STOCKLINE_KAFKA_SASL_USERNAME"):
        Settings(kafka_security_protocol="SASL_PLAINTEXT")
