"""The faust app that hosts a ledger worker: its lifecycle, signals and web server
(`/metrics`), with the ledger consumer and the publisher as services of the app.

The ledger consumer reads with aiokafka in batches itself (see ledger_consumer.py), so the
app declares no agent on the input topics; its own id differs from the ledger's consumer
group so the two never meet in one group.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faust
from faust.app.base import BootStrategy
from prometheus_client import CONTENT_TYPE_LATEST

from stockline.adapters.kafka.ledger_consumer import LedgerConsumer
from stockline.adapters.metrics import Metrics
from stockline.settings import Settings


class _HostOnly(BootStrategy):
    """Faust starts no Kafka client of its own: the ledger consumer and the publisher are
    the worker's Kafka clients. The web server and the services still start."""

    enable_kafka = False
    enable_web = True


class HostApp(faust.App):
    BootStrategy = _HostOnly


def create_app(settings: Settings) -> faust.App:
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    servers = ";".join(f"kafka://{h.strip()}" for h in settings.kafka_bootstrap.split(","))
    app_id = f"{settings.consumer_group}.host"
    return HostApp(
        app_id,
        broker=servers,
        processing_guarantee="at_least_once",
        store="memory://",
        datadir=f"{settings.data_dir}/{app_id}",
        autodiscover=False,
        topic_disable_leader=True,
        topic_allow_declare=False,
        web_host=settings.web_host,
        web_port=settings.web_port,
    )


def attach_ledger(
    app: faust.App, settings: Settings, consumer: LedgerConsumer, metrics: Metrics
) -> None:
    """Run the ledger consumer with the app; serve /metrics and /readyz (503 while the
    latest batch is failing on Redis) and refresh consumer lag."""
    app.service(consumer)  # type: ignore[arg-type]  # an instance is accepted as well as a class

    async def metrics_page(web: Any, request: Any) -> Any:
        return web.bytes(metrics.render(), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    app.page("/metrics")(metrics_page)

    async def readyz_page(web: Any, request: Any) -> Any:
        status, body = consumer.readiness.status()
        return web.json(body, status=status)

    app.page("/readyz")(readyz_page)
    consumer.readiness.export(metrics.registry)

    async def report_lag() -> None:
        metrics.set_lag(consumer.lag())

    app.timer(interval=settings.lag_interval_s)(report_lag)
