"""The dashboard and the alert rules query only series a running worker and API export.

The unit tests in tests/unit/deploy check the names against the code's registries; this one
scrapes the real processes, as Prometheus will."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import spawn
from tests.integration.harness import WorkerProcess, World, eventually, scrape
from tests.integration.test_api_end_to_end import api  # noqa: F401  (the fixture)
from tests.unit.deploy.metric_names import PROMETHEUS_BUILTINS, metric_names

pytestmark = [pytest.mark.kafka, pytest.mark.redis]
ROOT = Path(__file__).resolve().parents[2]
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
}


def queried() -> set[str]:
    dashboard = json.loads((ROOT / "deploy/grafana/dashboards/stockline.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", []) if "expr" in t]
    rules = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
    exprs += [r["expr"] for g in rules["groups"] for r in g["rules"]]
    return set().union(*(metric_names(e) for e in exprs))


def series(text: str) -> set[str]:
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ("",)))
    return names


async def test_every_queried_series_is_exported_by_a_running_process(
    world: World,
    workers: list[WorkerProcess],
    tmp_path: Path,
    api: str,  # noqa: F811
) -> None:
    await world.create_topics()
    worker = spawn(workers, world, tmp_path)
    worker_text = await eventually(lambda: scrape(worker), bool, timeout=60)
    api_text = await asyncio.to_thread(
        lambda: urllib.request.urlopen(f"{api}/metrics", timeout=5).read().decode()
    )
    exported = series(worker_text) | series(api_text)
    missing = queried() - exported - PROMETHEUS_BUILTINS
    assert missing == set(), f"the dashboard or alerts query series nobody exports: {missing}"
    assert "stockline_consumer_lag" in queried()
