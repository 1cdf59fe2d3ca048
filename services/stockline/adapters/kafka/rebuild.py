"""The input log of `stockline rebuild` on Kafka (service_layer/rebuild.py has the use case):
every partition of every input topic, read from its beginning up to the end offset it had
when the rebuild was checked, with a consumer of no group."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

from stockline.adapters.clients import kafka_admin, kafka_consumer
from stockline.adapters.kafka.partitions import MissingTopics, assign_known, topic_partitions
from stockline.service_layer.ports import RawRecord
from stockline.service_layer.rebuild import MissingInputs, Process, Progress, WorkersRunning
from stockline.settings import Settings


class KafkaInputLog:
    """`InputLog` on the input topics; refuses while the workers' group has live members."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._partitions: list[TopicPartition] = []

    async def check(self) -> None:
        """WorkersRunning while the group has members; MissingInputs when the broker does
        not name an input topic's partitions (a topic created a moment ago is waited for)."""
        settings = self._settings
        admin = kafka_admin(settings)
        await admin.start()
        try:
            members = await _members(admin, settings.consumer_group)
            if members:
                raise WorkersRunning(
                    f"consumer group {settings.consumer_group} has {members} live member(s): "
                    "stop the workers before rebuilding (they would write to the keys being "
                    "replaced)"
                )
            try:
                self._partitions = await topic_partitions(admin, list(settings.input_topics))
            except MissingTopics as exc:
                raise MissingInputs(
                    f"{exc}: create them (stockline topics) or fix STOCKLINE_INPUT_TOPICS; "
                    "nothing was replaced"
                ) from exc
        finally:
            await admin.close()

    async def replay(self, process: Process, progress: Progress) -> int:
        consumer = kafka_consumer(self._settings, enable_auto_commit=False)
        await consumer.start()
        try:
            ends, total = await self._from_start(consumer)
            done = 0
            while remaining := [tp for tp in ends if await consumer.position(tp) < ends[tp]]:
                batch = await consumer.getmany(
                    *remaining, timeout_ms=1000, max_records=self._settings.batch_max
                )
                records = [
                    RawRecord(m.topic, m.partition, m.offset, m.key, m.value, m.timestamp)
                    for tp, messages in batch.items()
                    for m in messages
                    if m.offset < ends[tp]
                ]
                if records:
                    await process(records)
                    done += len(records)
                    progress(done, total)
            return done
        finally:
            await consumer.stop()

    async def _from_start(
        self, consumer: AIOKafkaConsumer
    ) -> tuple[dict[TopicPartition, int], int]:
        """Assign every input partition at its beginning; (end offset per partition, records)."""
        tps = self._partitions
        try:
            await assign_known(consumer, tps)
        except MissingTopics as exc:
            raise MissingInputs(f"{exc}; nothing was replaced") from exc
        ends = await consumer.end_offsets(tps)
        starts = await consumer.beginning_offsets(tps)
        await consumer.seek_to_beginning(*tps)
        return ends, sum(ends[tp] - starts[tp] for tp in tps)


async def _members(admin: AIOKafkaAdminClient, group: str) -> int:
    """Live members of `group`, from `describe_consumer_groups`."""
    described = await admin.describe_consumer_groups([group])
    return sum(len(_group_members(g)) for g in described)


def _group_members(group: object) -> list[object]:
    groups = getattr(group, "groups", None)
    if groups is not None:  # a DescribeGroupsResponse: groups are tuples, members 6th
        return [m for g in groups for m in (g[5] if len(g) > 5 else [])]
    return list(getattr(group, "members", []) or [])
