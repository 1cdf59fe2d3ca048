"""deploy/prometheus: the scrape config and alert rules load in promtool, every alert is
unit-tested firing and silent (alerts_test.yml), and the rules only query exported series."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.unit.deploy.metric_names import PENDING, exported, metric_names, unknown

ROOT = Path(__file__).resolve().parents[3]
PROM_DIR = ROOT / "deploy" / "prometheus"
SEVERITIES = {"critical", "warning"}


def _load(name: str) -> Any:
    with (PROM_DIR / name).open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


ALERTS = _load("alerts.yml")
RULES = [rule for group in ALERTS["groups"] for rule in group["rules"]]
ALERT_NAMES = [rule["alert"] for rule in RULES if "alert" in rule]
UNIT_TESTS = _load("alerts_test.yml")


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    if promtool is None:  # a failure, not a skip: CI must never pass without these checks
        pytest.fail(
            "promtool not installed: run deploy/local/setup.sh "
            "(it installs Debian's prometheus package, which ships promtool)",
            pytrace=False,
        )
    return subprocess.run(
        [promtool, *args], cwd=PROM_DIR, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize(
    "args",
    [
        ("check", "config", "prometheus.yml"),
        ("check", "rules", "alerts.yml"),
        ("test", "rules", "alerts_test.yml"),
    ],
    ids=" ".join,
)
def test_promtool_accepts(args: tuple[str, ...]) -> None:
    result = _promtool(*args)
    assert result.returncode == 0, f"promtool {' '.join(args)}:\n{result.stdout}{result.stderr}"


def test_prometheus_scrapes_the_jobs_the_rules_and_dashboard_select() -> None:
    config = _load("prometheus.yml")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert {"stockline-worker", "stockline-api"} <= jobs.keys()
    ports = {
        name: {sd["port"] for sd in jobs[name]["dns_sd_configs"]}
        for name in ("stockline-worker", "stockline-api")
    }
    assert ports == {"stockline-worker": {6066}, "stockline-api": {8080}}
    assert config["rule_files"] == ["alerts.yml"]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.get("alert", r.get("record")))
def test_alert_has_for_severity_and_annotations(rule: dict[str, Any]) -> None:
    assert "alert" in rule, "alerts.yml holds alerts only"
    assert re.fullmatch(r"\d+[smh]", str(rule.get("for", ""))), "every alert needs a `for:`"
    assert rule["labels"]["severity"] in SEVERITIES
    annotations = rule["annotations"]
    for key in ("summary", "description", "runbook"):
        assert annotations.get(key, "").strip(), f"annotation {key!r} missing"


def test_alert_names_are_unique() -> None:
    assert len(ALERT_NAMES) == len(set(ALERT_NAMES))


@pytest.mark.parametrize("alert", ALERT_NAMES)
def test_alert_is_unit_tested_firing_and_silent(alert: str) -> None:
    cases = [
        case
        for test in UNIT_TESTS["tests"]
        for case in test.get("alert_rule_test", [])
        if case["alertname"] == alert
    ]
    assert any(case.get("exp_alerts") for case in cases), f"no test where {alert} fires"
    assert any(not case.get("exp_alerts") for case in cases), f"no test where {alert} is silent"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r["alert"])
def test_alert_queries_only_exported_metrics(rule: dict[str, Any]) -> None:
    names = metric_names(rule["expr"])
    assert names, f"no metric found in {rule['expr']!r}"
    assert not unknown(names), f"{rule['alert']} queries series nothing exports: {unknown(names)}"


def test_unit_test_series_are_exported_metrics() -> None:
    series = {
        s["series"].split("{", 1)[0] for test in UNIT_TESTS["tests"] for s in test["input_series"]
    }
    assert not unknown(series), f"alerts_test.yml feeds series nothing exports: {unknown(series)}"


def test_pending_metrics_are_still_missing_from_the_code() -> None:
    landed = PENDING & exported()
    assert not landed, f"these now exist: remove them from PENDING in metric_names.py: {landed}"


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('sum by (le) (rate(a_bucket{job="x",le=~"1|2"}[5m])) > 1e3', {"a_bucket"}),
        ('sum(up{job="w"}) == 0 or absent(up{job="w"})', {"up"}),
        ("max by (t, p) (deriv(lag[10m] offset 5m)) > 0 and on (t) group_left (q) b", {"lag", "b"}),
        ("sum(rate(c_total[$__rate_interval])) by (reason)", {"c_total"}),
        ('label_replace(d, "dst", "$1", "src", "(.*)")', {"d"}),
    ],
)
def test_metric_names_finds_metrics_only(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names
