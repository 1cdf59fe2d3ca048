"""Golden wire examples from `schemas/examples/` (source checkout only), for tests and tools.

Every example is judged at the fixed instant `EXAMPLES_NOW_US` with `EXAMPLES_RETENTION_US`;
passing these to `decode` keeps the examples from going stale. The file format is described
in `schemas/README.md`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from stockline.contracts import rfc3339
from stockline.contracts.codec import DlqReason
from stockline.contracts.jsonschema import SCHEMAS_DIR

EXAMPLES_DIR: Final = SCHEMAS_DIR / "examples"
EXAMPLES_NOW_US: Final = rfc3339.to_epoch_us(rfc3339.parse("2026-11-25T10:00:00Z"))
EXAMPLES_RETENTION_US: Final = 7 * 24 * 3600 * 1_000_000


@dataclass(frozen=True, slots=True)
class Message:
    """A Kafka message as a publisher would send it, named by its file (`<kind>[.<case>]`)."""

    name: str
    key: bytes | None
    value: bytes

    @property
    def kind(self) -> str:
        """The event type (valid examples) or DLQ reason (invalid ones) the name starts with."""
        return self.name.partition(".")[0]


@dataclass(frozen=True, slots=True)
class InvalidExample:
    """A message that `decode` must reject with `reason`."""

    reason: DlqReason
    message: Message
    note: str


def valid_examples(examples_dir: Path = EXAMPLES_DIR) -> list[Message]:
    """At least one message per event type, named by it; the file bytes are the value, key = sku."""
    messages = []
    for path in sorted((examples_dir / "valid").glob("*.json")):
        value = path.read_bytes()
        key = json.loads(value)["sku"].encode()
        messages.append(Message(path.stem, key, value))
    return messages


def invalid_examples(examples_dir: Path = EXAMPLES_DIR) -> list[InvalidExample]:
    """At least one example per DLQ reason, named by it."""
    return [_invalid(path) for path in sorted((examples_dir / "invalid").glob("*.json"))]


def _invalid(path: Path) -> InvalidExample:
    doc = json.loads(path.read_text("utf-8"))
    value = doc["value"].encode()
    value += b" " * max(0, doc.get("pad_to_bytes", 0) - len(value))
    key = None if doc["key"] is None else doc["key"].encode()
    return InvalidExample(DlqReason(doc["reason"]), Message(path.stem, key, value), doc["note"])
