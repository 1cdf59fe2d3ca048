"""A throwaway stockline worker for one simulation run, so two policies can be compared on
one broker and one Redis without touching anyone's data.

`sandbox_worker` creates topics `sim-<run>.<name>` (3 partitions), runs `stockline worker`
as a subprocess with the policy's network file, its own consumer group and Redis key prefix
`sim-<run>`, and on exit stops it, deletes its Redis keys (by prefix, never a flush) and
its topics.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

from stockline.adapters.clients import kafka_admin, redis_client
from stockline.adapters.kafka.topics import ensure_topics
from stockline.settings import INPUT_TOPICS, Settings


def sandbox_settings(base: Settings, network_file: Path, run: str) -> Settings:
    """`base` with topics, group and key prefix of their own, and `network_file`."""
    prefix = f"sim-{run}"
    return base.model_copy(
        update={
            "network_file": network_file,
            "key_prefix": prefix,
            "consumer_group": f"stockline-{prefix}",
            "input_topics": tuple(f"{prefix}.{t}" for t in INPUT_TOPICS),
            "atp_topic": f"{prefix}.inventory.atp",
            "atp_nodes_topic": f"{prefix}.inventory.atp.nodes",
            "dlq_topic": f"{prefix}.inventory.dlq",
            "reorder_topic": f"{prefix}.inventory.signals.reorder",
            "rebalance_topic": f"{prefix}.inventory.signals.rebalance",
            "partitions": 3,
            "batch_within_s": 0.01,
            "web_port": _free_port(),
            "review_interval_s": 0,  # simulated days lie in the past: reviews follow events
        }
    )


@asynccontextmanager
async def sandbox_worker(
    base: Settings, network_file: Path, log_path: Path
) -> AsyncIterator[Settings]:
    """Run a worker for `network_file` (an absolute path: the worker resolves it from its
    own directory) in a sandbox; yields the settings to simulate with. The worker's output
    goes to `log_path`."""
    settings = sandbox_settings(base, network_file, uuid.uuid4().hex[:8])
    await ensure_topics(settings)
    with log_path.open("ab") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "stockline.cli",
            "worker",
            env=_env(settings),
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
    try:
        yield settings
    finally:
        await _stop(proc)
        await _clean(settings)


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), timeout=30)
        except TimeoutError:
            proc.kill()
            await proc.wait()


def _env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOCKLINE_")}
    for name, value in settings.model_dump(mode="json").items():
        if value is None or name in ("api_tokens",):
            continue
        env[f"STOCKLINE_{name.upper()}"] = _env_value(value)
    return env


def _env_value(value: Any) -> str:
    return json.dumps(value) if isinstance(value, list | tuple | dict) else str(value)


async def _clean(settings: Settings) -> None:
    redis = redis_client(settings, decode_responses=False)
    try:
        async for key in redis.scan_iter(match=f"{settings.key_prefix}:*", count=1000):
            await redis.unlink(key)
    finally:
        await redis.aclose()
    admin = kafka_admin(settings)
    await admin.start()
    try:
        with suppress(Exception):  # leftover topics are harmless; cleaning must not mask errors
            await admin.delete_topics([*settings.input_topics, *settings.output_topics])
    finally:
        await admin.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
