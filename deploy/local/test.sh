#!/usr/bin/env bash
# The whole test suite, from a bare machine: install, start the local stack (or reuse it),
# static checks, then pytest (unit, contract and integration tests on real Kafka + Redis).
# Extra arguments go to pytest, e.g. deploy/local/test.sh tests/unit -x
set -euo pipefail
# a step that fails says which one (set -e alone exits without a word)
trap 'echo "[test] error: \"$BASH_COMMAND\" failed (exit $?, line $LINENO of $0)" >&2' ERR
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
deploy/local/setup.sh
deploy/local/stack.sh up
bin=.venv/bin
echo "[test] static checks: ruff (lint, format), mypy (strict: services, tests), import contracts" >&2
"$bin/ruff" check --quiet services tests deploy
"$bin/ruff" format --check --quiet services tests deploy
"$bin/mypy" --no-error-summary
"$bin/lint-imports" --no-cache >/dev/null
echo "[test] pytest" >&2
exec "$bin/pytest" "$@"
