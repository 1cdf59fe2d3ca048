"""The API's OpenAPI document, checked in at `schemas/openapi.json` and kept in step.

Run `python -m stockline.adapters.http.openapi` after changing a route or model, and
`python -m stockline.adapters.http.openapi --check` in CI (exit 1 when stale).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from stockline.adapters.http.app import create_app
from stockline.adapters.memory import MemoryLedgerReader, MemoryLedgerStore, StaticNetworkView
from stockline.service_layer.availability import Availability

OPENAPI_PATH: Final = Path(__file__).resolve().parents[4] / "schemas" / "openapi.json"
"""The repository's `schemas/openapi.json` (a source checkout; not shipped in wheels)."""


def render_openapi() -> str:
    """The document the app serves at /openapi.json; sorted keys, final newline."""
    availability = Availability(MemoryLedgerReader(MemoryLedgerStore()), StaticNetworkView())
    document = create_app(availability).openapi()
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def is_stale(path: Path = OPENAPI_PATH) -> bool:
    return not path.exists() or path.read_text(encoding="utf-8") != render_openapi()


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry: write the document, or with `--check` report whether it is stale (exit 1)."""
    parser = argparse.ArgumentParser(prog="python -m stockline.adapters.http.openapi")
    parser.add_argument("--check", action="store_true", help="fail if the file is stale")
    parser.add_argument("--path", type=Path, default=OPENAPI_PATH, help="where the file lives")
    args = parser.parse_args(argv)
    if args.check:
        if is_stale(args.path):
            print(
                f"stale: {args.path}\nrun: python -m stockline.adapters.http.openapi",
                file=sys.stderr,
            )
            return 1
        return 0
    args.path.write_text(render_openapi(), encoding="utf-8")
    print(f"wrote {args.path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
