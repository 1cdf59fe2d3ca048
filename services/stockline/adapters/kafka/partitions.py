"""Reading a fixed set of topics by partition, with aiokafka's public API only: the broker
names the partitions (admin `describe_topics`), a consumer is assigned them and waits for
its own metadata of them before it reads or seeks offsets."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition

from stockline.adapters.clients import kafka_admin
from stockline.settings import Settings

log = logging.getLogger(__name__)

TOPIC_WAIT_S = 15.0
"""How long to wait for the broker to name a topic's partitions (a topic created a moment
ago may not have its leaders yet)."""


class MissingTopics(RuntimeError):
    """A topic has no partitions the broker will name."""


async def topic_partitions(
    admin: AIOKafkaAdminClient, topics: list[str], wait_s: float = TOPIC_WAIT_S
) -> list[TopicPartition]:
    """Every partition of `topics`, as the broker names them (asked again while a topic has
    no leaders yet); MissingTopics naming the ones it does not name within `wait_s`."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            described = {t["topic"]: t for t in await admin.describe_topics(topics)}
        except KafkaError as exc:  # the admin client's first metadata may not be in yet
            log.info("describing topics failed (%r); asking again", exc)
            described = {}
        missing = [t for t in topics if not _named(described.get(t))]
        if not missing:
            break
        if time.monotonic() > deadline:
            raise MissingTopics(f"the broker names no partitions of topic(s) {', '.join(missing)}")
        await asyncio.sleep(0.2)
    return [
        TopicPartition(topic, p["partition"])
        for topic in topics
        for p in sorted(described[topic]["partitions"], key=lambda p: p["partition"])
    ]


async def assign_known(
    consumer: AIOKafkaConsumer, tps: list[TopicPartition], wait_s: float = TOPIC_WAIT_S
) -> None:
    """Assign `tps` and wait until the consumer's metadata knows each topic: `assign` asks
    for it, and until it is in, offsets the consumer reads would not be the topics' (a
    replay of nothing, a seek to nowhere)."""
    consumer.assign(tps)
    deadline = time.monotonic() + wait_s
    while any(consumer.partitions_for_topic(tp.topic) is None for tp in tps):
        if time.monotonic() > deadline:
            raise MissingTopics("the consumer got no metadata for the topics it was assigned")
        await asyncio.sleep(0.1)


def _named(topic: dict[str, Any] | None) -> bool:
    """Described without error, with partitions that all have a leader."""
    if topic is None or topic.get("error_code") != 0:
        return False
    partitions: list[dict[str, Any]] = topic.get("partitions") or []
    return bool(partitions) and all(p.get("error_code", 0) == 0 for p in partitions)


async def assign_at_end(settings: Settings, consumer: AIOKafkaConsumer, topics: list[str]) -> None:
    """Assign `consumer` every partition of `topics`, at its end (topics created a moment
    ago are waited for); MissingTopics when one does not exist."""
    admin = kafka_admin(settings)
    await admin.start()
    try:
        tps = await topic_partitions(admin, topics)
        await assign_known(consumer, tps)
    finally:
        await admin.close()
    await consumer.seek_to_end(*tps)
