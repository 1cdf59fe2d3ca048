"""docker-compose.yml: the default stack and the `cluster` profile say what the README and
docs/scaling.md promise (there is no Docker engine here to run them; the file is read)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
PROMETHEUS: dict[str, Any] = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
NODES = [f"redis-{n}" for n in range(1, 7)]


def command_text(service: dict[str, Any]) -> str:
    command = service["command"]
    return command if isinstance(command, str) else " ".join(command)


def test_the_cluster_profile_starts_nothing_by_default() -> None:
    cluster = {name for name, s in SERVICES.items() if "cluster" in s.get("profiles", [])}
    assert cluster == {*NODES, "redis-cluster-init", "worker-cluster", "api-cluster"}
    assert not {"worker", "api", "redis"} & cluster  # `docker compose up` is unchanged


def test_six_cluster_nodes_with_aof_each_on_its_own_volume() -> None:
    for name in NODES:
        node, text = SERVICES[name], command_text(SERVICES[name])
        assert "--cluster-enabled yes" in text
        assert "--appendonly yes --appendfsync everysec" in text
        assert node["hostname"] == name
        assert "--cluster-preferred-endpoint-type hostname" in text  # redirects name services
        assert node["volumes"] == [f"{name}:/data"]
        assert name in COMPOSE["volumes"]


def test_the_init_creates_three_primaries_with_a_replica_each_once_every_node_answers() -> None:
    init = SERVICES["redis-cluster-init"]
    text = command_text(init)
    assert "--cluster create " + " ".join(f"{n}:6379" for n in NODES) in text
    assert "--cluster-replicas 1 --cluster-yes" in text
    assert init["depends_on"] == {n: {"condition": "service_healthy"} for n in NODES}


def test_the_cluster_workers_and_api_run_in_cluster_mode_against_a_node() -> None:
    for name in ("worker-cluster", "api-cluster"):
        env = SERVICES[name]["environment"]
        assert env["STOCKLINE_REDIS_MODE"] == "cluster"
        host = env["STOCKLINE_REDIS_URL"].removeprefix("redis://").split(":")[0]
        assert host in NODES
        assert SERVICES[name]["depends_on"]["redis-cluster-init"] == {
            "condition": "service_completed_successfully"
        }
    assert SERVICES["worker-cluster"]["command"] == SERVICES["worker"]["command"]
    assert SERVICES["api-cluster"]["command"] == SERVICES["api"]["command"]


def test_prometheus_scrapes_the_cluster_workers_and_api_under_the_same_jobs() -> None:
    names = {
        job["job_name"]: {n for sd in job["dns_sd_configs"] for n in sd["names"]}
        for job in PROMETHEUS["scrape_configs"]
        if "dns_sd_configs" in job
    }
    assert {"worker", "worker-cluster"} <= names["stockline-worker"]
    assert {"api", "api-cluster"} <= names["stockline-api"]
