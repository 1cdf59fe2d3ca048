"""deploy/grafana: the dashboard is well formed, shows what DESIGN.md section 7 asks for,
and queries only series the code exports; the provisioning files point at it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.unit.deploy.metric_names import metric_names, unknown

ROOT = Path(__file__).resolve().parents[3]
GRAFANA_DIR = ROOT / "deploy" / "grafana"
DASHBOARD = json.loads((GRAFANA_DIR / "dashboards" / "stockline.json").read_text("utf-8"))
PANELS: list[dict[str, Any]] = [p for p in DASHBOARD["panels"] if p["type"] != "row"]
EXPRS = [(p["title"], t["expr"]) for p in PANELS for t in p["targets"]]

# Every series DESIGN.md section 7 wants on the dashboard.
WANTED = {
    "stockline_events_total",
    "stockline_apply_seconds_bucket",
    "stockline_event_age_seconds_bucket",
    "stockline_atp_freshness_seconds_bucket",
    "stockline_consumer_lag",
    "stockline_dlq_writes_total",
    "stockline_atp_messages_total",
    "stockline_signals_total",
    "stockline_negative_on_hand_anomalies_total",
    "stockline_redis_errors_total",
    "stockline_http_requests_total",
    "stockline_http_request_seconds_bucket",
}


def _load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def test_dashboard_identity_is_stable() -> None:
    assert DASHBOARD["uid"] == "stockline"
    assert "id" not in DASHBOARD or DASHBOARD["id"] is None, "provisioned dashboards carry no id"


def test_panel_ids_are_unique_and_panels_fit_the_grid() -> None:
    ids = [p["id"] for p in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids))
    for panel in DASHBOARD["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0
        assert grid["w"] > 0
        assert grid["x"] + grid["w"] <= 24, panel["title"]


def test_panels_do_not_overlap() -> None:
    cells: dict[tuple[int, int], str] = {}
    for panel in DASHBOARD["panels"]:
        g = panel["gridPos"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


@pytest.mark.parametrize("panel", PANELS, ids=lambda p: p["title"])
def test_panel_queries_prometheus_through_the_datasource_variable(panel: dict[str, Any]) -> None:
    assert panel["targets"], "a panel without a query"
    refs = [t["refId"] for t in panel["targets"]]
    assert len(refs) == len(set(refs))
    for source in [panel["datasource"]] + [t["datasource"] for t in panel["targets"]]:
        assert source == {"type": "prometheus", "uid": "${datasource}"}
    variables = {v["name"]: v for v in DASHBOARD["templating"]["list"]}
    assert variables["datasource"]["query"] == "prometheus"


@pytest.mark.parametrize(("title", "expr"), EXPRS, ids=[t for t, _ in EXPRS])
def test_query_uses_only_exported_metrics(title: str, expr: str) -> None:
    names = metric_names(expr)
    assert names, f"{title}: no metric found in {expr!r}"
    assert not unknown(names), f"{title} queries series nothing exports: {unknown(names)}"


def test_dashboard_shows_every_section_7_metric() -> None:
    shown = set().union(*(metric_names(expr) for _, expr in EXPRS))
    assert not WANTED - shown, f"not on the dashboard: {WANTED - shown}"


def test_staleness_is_one_stat_panel_on_atp_freshness_p99() -> None:
    (panel,) = [p for p in PANELS if "how stale" in p["title"].lower()]
    assert panel["type"] == "stat"
    (target,) = panel["targets"]
    assert "histogram_quantile(0.99" in target["expr"]
    assert metric_names(target["expr"]) == {"stockline_atp_freshness_seconds_bucket"}
    assert panel["fieldConfig"]["defaults"]["unit"] == "s"


def test_datasource_provisioning_matches_prometheus() -> None:
    config = _load_yaml(GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml")
    (source,) = config["datasources"]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    assert source["isDefault"] is True


def test_dashboard_provider_loads_files() -> None:
    config = _load_yaml(GRAFANA_DIR / "provisioning" / "dashboards" / "stockline.yml")
    (provider,) = config["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"].startswith("/")
