"""The connection options every Kafka client of stockline gets (see adapters/clients.py,
where the clients are made)."""

from __future__ import annotations

from stockline.adapters.clients import kafka_options as client_options

__all__ = ["client_options"]
