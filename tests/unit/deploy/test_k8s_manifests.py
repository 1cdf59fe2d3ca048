"""deploy/k8s checked by construction: no cluster answers here, so what is checked is what
`kubectl apply` or the kubelet would only reject later. Every manifest is valid against the
Kubernetes OpenAPI schemas (strict: unknown fields fail), and the pieces agree with each
other and with the code: env names are real settings, probes hit declared ports,
selectors select the pods they mean, commands are real subcommands."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from stockline.cli import build_parser
from stockline.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
K8S_DIR = ROOT / "deploy" / "k8s"
# The oldest Kubernetes minor still in common support, and the newest the validator knows.
K8S_VERSIONS = ("1.29.0", "latest")
SETTING_ENV = {f"STOCKLINE_{name.upper()}" for name in Settings.model_fields}
_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def _load_yaml(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [doc for doc in yaml.safe_load_all(fh) if doc is not None]


KUSTOMIZATION = _load_yaml(K8S_DIR / "kustomization.yaml")[0]
RESOURCES = {name: doc for name in KUSTOMIZATION["resources"] for doc in _load_yaml(K8S_DIR / name)}
DOCS = list(RESOURCES.values())


def _one(kind: str, name: str) -> dict[str, Any]:
    found = [d for d in DOCS if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


WORKER = _one("Deployment", "stockline-worker")
API = _one("Deployment", "stockline-api")
TOPICS = _one("Job", "stockline-topics")
PDB = _one("PodDisruptionBudget", "stockline-worker")
SERVICE = _one("Service", "stockline-api")
CONFIG = _one("ConfigMap", "stockline-config")
WORKLOADS = {"worker": WORKER, "api": API, "topics": TOPICS}


def _pod(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def _containers() -> Iterator[tuple[str, dict[str, Any]]]:
    for name, workload in WORKLOADS.items():
        for container in _pod(workload)["containers"]:
            yield f"{name}/{container['name']}", container


CONTAINERS = dict(_containers())


def _env(container: dict[str, Any]) -> dict[str, Any]:
    """Every variable a container gets, in kubelet order: envFrom ConfigMaps, then env."""
    env: dict[str, Any] = {}
    for source in container.get("envFrom", []):
        assert source["configMapRef"]["name"] == CONFIG["metadata"]["name"]
        env.update(CONFIG["data"])
    env.update({e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])})
    return env


def _declared_ports(container: dict[str, Any]) -> set[int | str]:
    """What a probe or a Service may name: a container port's number or its name."""
    ports = container.get("ports", [])
    return {p["containerPort"] for p in ports} | {p["name"] for p in ports}


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


# --- files and schemas ----------------------------------------------------------------------


def test_every_manifest_is_in_the_kustomization() -> None:
    on_disk = {p.name for p in K8S_DIR.glob("*.yaml")} - {"kustomization.yaml"}
    assert on_disk == set(KUSTOMIZATION["resources"])


def test_network_file_generator_points_at_an_existing_network_file() -> None:
    (generator,) = KUSTOMIZATION["configMapGenerator"]
    assert generator["name"] == "stockline-network"
    (entry,) = generator["files"]
    key, _, path = entry.partition("=")
    assert key == "network.yaml"
    assert path == "../network/example.yaml"
    assert (K8S_DIR / path).is_file(), f"{path} is missing"


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("doc", DOCS, ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_manifest_is_valid_against_the_kubernetes_schema(doc: dict[str, Any], version: str) -> None:
    try:
        import kubernetes_validate
    except ImportError:  # a failure, not a skip: CI must never pass without this check
        pytest.fail(
            "kubernetes-validate not installed: run deploy/local/setup.sh "
            "(it installs the [test] extra of pyproject.toml)",
            pytrace=False,
        )
    version = kubernetes_validate.latest_version() if version == "latest" else version
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = "/".join(str(p) for p in getattr(exc, "path", []))
        pytest.fail(f"Kubernetes {version} rejects it at {where}: {getattr(exc, 'message', exc)}")


# --- workloads agree with the code ------------------------------------------------------------


@pytest.mark.parametrize("name", CONTAINERS)
def test_command_is_a_stockline_subcommand(name: str) -> None:
    command = CONTAINERS[name]["command"]
    subcommands = next(a.choices for a in build_parser()._actions if a.dest == "command")
    assert isinstance(subcommands, dict)
    assert command[0] == "stockline"
    assert command[1] in subcommands
    assert command[1] == name.split("/")[0], "each workload runs its own subcommand"


def _used_helpers(env: dict[str, Any]) -> set[str]:
    """Names that settings in `env` interpolate with $(NAME)."""
    return {
        ref
        for key, value in env.items()
        if key in SETTING_ENV and isinstance(value, str)
        for ref in _REF.findall(value)
    }


@pytest.mark.parametrize("name", CONTAINERS)
def test_env_names_are_settings_or_helpers_used_by_a_setting(name: str) -> None:
    """Settings ignores unknown STOCKLINE_* names (extra="ignore"): a typo would pass silently."""
    container = CONTAINERS[name]
    declared = {var["name"] for var in container.get("env", [])}
    stray = declared - SETTING_ENV - _used_helpers(_env(container))
    assert not stray, f"neither settings nor used in a setting's $(...): {stray}"


def test_config_map_keys_are_settings_or_helpers_used_by_a_setting() -> None:
    used = set().union(*(_used_helpers(_env(c)) for c in CONTAINERS.values()))
    stray = set(CONFIG["data"]) - SETTING_ENV - used
    assert not stray, f"neither settings nor used in a setting's $(...): {stray}"


@pytest.mark.parametrize("name", CONTAINERS)
def test_env_references_resolve_to_earlier_variables(name: str) -> None:
    container = CONTAINERS[name]
    known = set(CONFIG["data"]) if container.get("envFrom") else set()
    for var in container.get("env", []):
        missing = set(_REF.findall(var.get("value", ""))) - known
        assert not missing, f"{var['name']} uses {missing}, not defined before it"
        known.add(var["name"])


def test_settings_in_the_config_map_parse() -> None:
    settings = {k: v for k, v in CONFIG["data"].items() if k in SETTING_ENV}
    parsed = Settings.model_validate(
        {k.removeprefix("STOCKLINE_").lower(): v for k, v in settings.items()}
    )
    assert parsed.partitions == int(CONFIG["data"]["STOCKLINE_PARTITIONS"])


def test_worker_replicas_do_not_exceed_partitions() -> None:
    assert WORKER["spec"]["replicas"] <= int(CONFIG["data"]["STOCKLINE_PARTITIONS"])


@pytest.mark.parametrize(
    ("workload", "port_name", "host_env", "port_env"),
    [
        (WORKER, "metrics", "STOCKLINE_WEB_HOST", "STOCKLINE_WEB_PORT"),
        (API, "http", "STOCKLINE_API_HOST", "STOCKLINE_API_PORT"),
    ],
    ids=["worker", "api"],
)
def test_served_port_is_the_declared_port_on_all_interfaces(
    workload: dict[str, Any], port_name: str, host_env: str, port_env: str
) -> None:
    (container,) = _pod(workload)["containers"]
    env = _env(container)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert env[host_env] == "0.0.0.0", "127.0.0.1 (the default) is unreachable from the kubelet"
    assert int(env[port_env]) == ports[port_name]


@pytest.mark.parametrize("name", CONTAINERS)
def test_probes_use_declared_container_ports(name: str) -> None:
    container = CONTAINERS[name]
    declared = _declared_ports(container)
    for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
        if kind in container:
            port = container[kind]["httpGet"]["port"]
            assert port in declared, f"{kind} port {port!r} is not a container port"


@pytest.mark.parametrize(
    ("workload", "paths"),
    [
        (WORKER, {"readinessProbe": "/metrics", "livenessProbe": "/metrics"}),
        (API, {"readinessProbe": "/readyz", "livenessProbe": "/healthz"}),
    ],
    ids=["worker", "api"],
)
def test_probes_hit_the_health_endpoints(workload: dict[str, Any], paths: dict[str, str]) -> None:
    (container,) = _pod(workload)["containers"]
    assert {kind: container[kind]["httpGet"]["path"] for kind in paths} == paths


def test_api_tokens_file_is_inside_the_mounted_tokens_secret() -> None:
    (container,) = _pod(API)["containers"]
    path = Path(_env(container)["STOCKLINE_API_TOKENS_FILE"])
    volumes = {v["name"]: v for v in _pod(API)["volumes"]}
    (mount,) = [m for m in container["volumeMounts"] if path.parent == Path(m["mountPath"])]
    secret = volumes[mount["name"]]["secret"]
    assert secret["secretName"] == "stockline-api-tokens"
    assert path.name in {item["path"] for item in secret["items"]}


# --- selectors ------------------------------------------------------------------------------


@pytest.mark.parametrize("workload", [WORKER, API], ids=["worker", "api"])
def test_deployment_selector_matches_its_pods(workload: dict[str, Any]) -> None:
    labels = workload["spec"]["template"]["metadata"]["labels"]
    assert _matches(workload["spec"]["selector"]["matchLabels"], labels)


def test_pdb_selects_the_workers_only() -> None:
    selector = PDB["spec"]["selector"]["matchLabels"]
    assert _matches(selector, WORKER["spec"]["template"]["metadata"]["labels"])
    assert not _matches(selector, API["spec"]["template"]["metadata"]["labels"])
    assert PDB["spec"]["maxUnavailable"] == 1


def test_service_selects_the_api_pods_only_on_a_declared_port() -> None:
    selector = SERVICE["spec"]["selector"]
    assert _matches(selector, API["spec"]["template"]["metadata"]["labels"])
    assert not _matches(selector, WORKER["spec"]["template"]["metadata"]["labels"])
    (container,) = _pod(API)["containers"]
    assert {p["targetPort"] for p in SERVICE["spec"]["ports"]} <= _declared_ports(container)


# --- hardening and references -----------------------------------------------------------------


@pytest.mark.parametrize("name", CONTAINERS)
def test_container_is_non_root_read_only_with_tmp_and_resources(name: str) -> None:
    container = CONTAINERS[name]
    pod = _pod(WORKLOADS[name.split("/")[0]])
    assert pod["securityContext"]["runAsNonRoot"] is True
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    tmp = next(m for m in container["volumeMounts"] if m["mountPath"] == "/tmp")
    assert "emptyDir" in next(v for v in pod["volumes"] if v["name"] == tmp["name"])
    assert {"cpu", "memory"} <= container["resources"]["requests"].keys()
    assert {"cpu", "memory"} <= container["resources"]["limits"].keys()


def test_data_dir_is_on_the_tmp_volume() -> None:
    assert CONFIG["data"]["STOCKLINE_DATA_DIR"].startswith("/tmp/")


def _secret_refs() -> set[tuple[str, str]]:
    refs = set()
    for container in CONTAINERS.values():
        for var in container.get("env", []):
            ref = var.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                refs.add((ref["name"], ref["key"]))
    for workload in WORKLOADS.values():
        for volume in _pod(workload).get("volumes", []):
            if "secret" in volume:
                refs |= {
                    (volume["secret"]["secretName"], i["key"]) for i in volume["secret"]["items"]
                }
    return refs


def test_secrets_are_referenced_not_shipped_and_documented() -> None:
    assert not [d for d in DOCS if d["kind"] == "Secret"], "secret values do not belong here"
    readme = (K8S_DIR / "README.md").read_text(encoding="utf-8")
    refs = _secret_refs()
    assert {name for name, _ in refs} == {"stockline-redis-acl", "stockline-api-tokens"}
    for name, key in refs:
        assert f"| `{name}` | `{key}` |" in readme, f"{name}/{key} is not in deploy/k8s/README.md"


def test_config_maps_referenced_exist() -> None:
    available = {CONFIG["metadata"]["name"]} | {
        g["name"] for g in KUSTOMIZATION["configMapGenerator"]
    }
    for workload in WORKLOADS.values():
        for volume in _pod(workload).get("volumes", []):
            if "configMap" in volume:
                assert volume["configMap"]["name"] in available
