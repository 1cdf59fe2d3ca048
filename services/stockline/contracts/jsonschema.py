"""Generated JSON Schema files under `schemas/`, checked in and kept in step with the models.

Run `python -m stockline.contracts.jsonschema` after changing a wire model, and
`python -m stockline.contracts.jsonschema --check` in CI (exit 1 lists stale files).
The schemas document the field rules; checks that need the message key or the clock
(key_mismatch, occurred_in_future, stale_count) and the size limit are not expressible there.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from stockline.contracts.events import EVENT_ADAPTER, EVENT_MODELS
from stockline.contracts.outbound import NodeAtpRecord, SkuAtpRecord
from stockline.contracts.signals import RebalanceRecord, ReorderRecord

SCHEMAS_DIR: Final = Path(__file__).resolve().parents[3] / "schemas"
"""The repository's `schemas/` folder (a source checkout; not shipped in wheels)."""

_DRAFT: Final = "https://json-schema.org/draft/2020-12/schema"


def render_schemas() -> dict[str, str]:
    """Path relative to `schemas/` -> file text; deterministic, sorted keys, final newline."""
    documents = {
        "v1/event.schema.json": _document(
            EVENT_ADAPTER.json_schema(), "Any inventory event, schema_version 1"
        ),
        "v1/atp.schema.json": _document(SkuAtpRecord.model_json_schema(), None),
        "v1/atp_node.schema.json": _document(NodeAtpRecord.model_json_schema(), None),
        "v1/reorder.schema.json": _document(ReorderRecord.model_json_schema(), None),
        "v1/rebalance.schema.json": _document(RebalanceRecord.model_json_schema(), None),
    }
    for event_type, model in EVENT_MODELS.items():
        documents[f"v1/{event_type}.schema.json"] = _document(model.model_json_schema(), None)
    return {path: documents[path] for path in sorted(documents)}


def _document(schema: dict[str, Any], title: str | None) -> str:
    schema = {"$schema": _DRAFT, **schema}
    if title is not None:
        schema["title"] = title
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def stale_files(schemas_dir: Path) -> list[str]:
    """Relative paths whose file is missing or differs from `render_schemas()`."""
    return [
        path
        for path, text in render_schemas().items()
        if not (schemas_dir / path).is_file() or (schemas_dir / path).read_text("utf-8") != text
    ]


def write_schemas(schemas_dir: Path) -> list[str]:
    """Write every stale schema file; returns the relative paths written."""
    written = stale_files(schemas_dir)
    rendered = render_schemas()
    for path in written:
        target = schemas_dir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(rendered[path], encoding="utf-8")
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry: write the schemas, or with `--check` report stale ones (exit 1)."""
    parser = argparse.ArgumentParser(prog="python -m stockline.contracts.jsonschema")
    parser.add_argument("--check", action="store_true", help="fail if a file is stale")
    parser.add_argument("--dir", type=Path, default=SCHEMAS_DIR, help="the schemas/ folder")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files(args.dir)
        for path in stale:
            print(f"stale: {args.dir / path}", file=sys.stderr)
        if stale:
            print("run: python -m stockline.contracts.jsonschema", file=sys.stderr)
        return 1 if stale else 0
    for path in write_schemas(args.dir):
        print(f"wrote {args.dir / path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
