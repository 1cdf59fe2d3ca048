"""The local stack and docker-compose run Redis with the same persistence settings."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]


def _stack_settings() -> list[str]:
    script = (ROOT / "deploy/local/stack.sh").read_text()
    block = re.search(r"^REDIS_PERSISTENCE=\((.*?)^\)", script, re.S | re.M)
    assert block, "deploy/local/stack.sh: REDIS_PERSISTENCE=( ... ) not found"
    return shlex.split(block.group(1), comments=True)


def _compose_settings() -> list[str]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    command = compose["services"]["redis"]["command"]
    assert command[0] == "redis-server"
    return [arg.removeprefix("--") for arg in command[1:]]


def test_compose_persists_redis_as_the_local_stack_does() -> None:
    assert _compose_settings() == _stack_settings()


def test_redis_is_persisted_as_documented() -> None:
    settings = dict(zip(*[iter(_stack_settings())] * 2, strict=True))
    assert settings == {
        "appendonly": "yes",
        "appendfsync": "everysec",
        "aof-use-rdb-preamble": "yes",
        "auto-aof-rewrite-percentage": "100",
        "auto-aof-rewrite-min-size": "1gb",
        "no-appendfsync-on-rewrite": "no",
        "save": "",
    }
