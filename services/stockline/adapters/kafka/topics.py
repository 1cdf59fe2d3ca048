"""Create stockline's topics (idempotent) and check the ones that exist fit the contract."""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from stockline.adapters.clients import kafka_admin
from stockline.settings import Settings

_WEEK_MS = 7 * 86_400_000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str]


class TopicMismatch(RuntimeError):
    """An existing topic's partition count breaks the one-SKU-one-partition-number rule."""


def topic_specs(settings: Settings) -> list[TopicSpec]:
    """Every topic stockline reads or writes, with the settings the design asks for."""
    retention = {"retention.ms": str(int(settings.retention_days * 86_400_000))}
    specs = [TopicSpec(t, settings.partitions, retention) for t in settings.input_topics]
    compacted = {"cleanup.policy": "compact"}
    for topic in (settings.atp_topic, settings.atp_nodes_topic):
        specs.append(TopicSpec(topic, settings.partitions, compacted))
    specs.append(
        TopicSpec(settings.dlq_topic, settings.partitions, {"retention.ms": str(4 * _WEEK_MS)})
    )
    for topic in (settings.reorder_topic, settings.rebalance_topic):
        specs.append(TopicSpec(topic, settings.partitions, retention))
    return specs


async def ensure_topics(settings: Settings) -> tuple[list[str], list[str]]:
    """Create missing topics; returns (created, already there). Raises TopicMismatch when
    an existing input topic has another partition count than the others."""
    admin = kafka_admin(settings)
    await admin.start()
    try:
        specs = topic_specs(settings)
        existing = set(await admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        if missing:
            await admin.create_topics(
                [
                    NewTopic(
                        s.name, s.partitions, settings.replication_factor, topic_configs=s.config
                    )
                    for s in missing
                ]
            )
        present = [s.name for s in specs if s.name in existing]
        await _check_input_partitions(admin, settings, present)
        return [s.name for s in missing], present
    finally:
        await admin.close()


async def _check_input_partitions(
    admin: AIOKafkaAdminClient, settings: Settings, present: list[str]
) -> None:
    inputs = [t for t in present if t in settings.input_topics]
    if not inputs:
        return
    described = await admin.describe_topics(inputs)
    counts = {d["topic"]: len(d["partitions"]) for d in described}
    wrong = {t: n for t, n in counts.items() if n != settings.partitions}
    if wrong:
        raise TopicMismatch(
            f"input topics must all have {settings.partitions} partitions "
            f"(STOCKLINE_PARTITIONS) so one SKU lands on one partition number everywhere; "
            f"found {wrong}"
        )
