"""Where a worker resumes a partition: Kafka's committed offset, unless Redis is behind."""

from __future__ import annotations

import pytest

from stockline.adapters.kafka.resume import rewind_target


@pytest.mark.parametrize(
    ("committed", "watermark", "resume_at"),
    [
        (None, None, None),  # nothing committed: the reset policy (earliest) decides
        (0, None, None),
        (100, 99, None),  # Redis applied all that Kafka committed
        (100, 150, None),  # Redis ahead (the last batch applied, its commit lost): no rewind
        (100, 60, 61),  # Redis lost its tail: replay 61..99
        (100, None, 0),  # Redis lost everything for this partition: replay from the start
    ],
)
def test_resume_from_the_watermark_only_when_redis_is_behind(
    committed: int | None, watermark: int | None, resume_at: int | None
) -> None:
    assert rewind_target(committed, watermark) == resume_at
