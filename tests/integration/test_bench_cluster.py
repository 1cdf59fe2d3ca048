"""The bench's Redis figures on a real Redis Cluster: every primary sampled, each kept apart."""

from __future__ import annotations

import uuid

import pytest

from stockline.bench.redis_stats import window
from stockline.bench.resources import Sampler
from stockline.settings import Settings
from tests.conftest import cluster_client

pytestmark = pytest.mark.redis


async def test_the_sampler_reads_every_primary_and_attributes_each_its_commands(
    redis_cluster_url: str,
) -> None:
    settings = Settings(redis_url=redis_cluster_url, redis_mode="cluster")
    sampler = Sampler(settings)
    client = cluster_client(redis_cluster_url)
    run = uuid.uuid4().hex[:8]
    keys = [f"bench-sampler-{run}:{{{n}}}" for n in range(90)]  # spread over the slots
    try:
        before = await sampler.redis_sample()
        for key in keys:
            await client.set(key, 1)
        w = window(before, await sampler.redis_sample())
    finally:
        await client.delete(*keys)
        await client.aclose()
        await sampler.close()

    assert len(w.by_node) == 3  # the three primaries, not the replicas
    sets = {name: node.calls.get("set", 0) for name, node in w.by_node.items()}
    assert all(n > 0 for n in sets.values()), sets  # each primary owns some of the keys
    assert w.calls["set"] == sum(sets.values()) >= len(keys)
