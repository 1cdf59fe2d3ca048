"""`stockline demo` against a running worker: the story's ATP, then a hold that shows in
ATP and expires by itself."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import spawn
from tests.integration.harness import WorkerProcess, World, free_port

pytestmark = [pytest.mark.kafka, pytest.mark.redis]


async def test_the_demo_shows_a_hold_and_its_expiry(
    world: World, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    await world.create_topics()
    spawn(workers, world, tmp_path)
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "stockline.cli", "demo", "--sku", "SKU-DEMO-T"],
        env=world.env(free_port()),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    hold = next(n for n, line in enumerate(lines) if "a storefront holds 5 at STORE-12" in line)
    # the store had 40: the hold takes 5 of them
    assert "STORE-12: atp 35 (on_hand 40, reserved 0, held 5" in lines[hold + 1]
    assert "expires" in lines[hold + 2]
    assert "STORE-12: atp 40 (on_hand 40, reserved 0, held 0" in lines[hold + 3]
