"""Fixtures of the simulator's unit tests: the example network and a small one."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.unit.simulation.sim_world import SMALL

from stockline.adapters.network_file import load_network
from stockline.domain.network import Network

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def example() -> Network:
    return load_network(ROOT / "deploy/network/example.yaml")


@pytest.fixture
def small(tmp_path: Path) -> Network:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    return load_network(path)
