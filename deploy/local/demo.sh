#!/usr/bin/env bash
# See stockline work on this machine: install, start Kafka and Redis, create the topics,
# run a ledger worker, publish a short story of events and print ATP as it changes, then
# place a hold (as the reservation API does) and watch it show in ATP and expire.
# The worker is stopped at the end; the stack stays up (deploy/local/stack.sh down).
set -euo pipefail
# a step that fails says which one (set -e alone exits without a word)
trap 'echo "[demo] error: \"$BASH_COMMAND\" failed (exit $?, line $LINENO of $0)" >&2' ERR
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
deploy/local/setup.sh
deploy/local/stack.sh up
bin=.venv/bin
"$bin/stockline" topics >/dev/null
log=${STOCKLINE_STATE:-${STOCKLINE_CACHE:-$HOME/.cache/stockline}/state}/demo-worker.log
mkdir -p "$(dirname "$log")"
"$bin/stockline" worker --loglevel info >"$log" 2>&1 &
worker=$!
trap 'kill "$worker" 2>/dev/null; wait "$worker" 2>/dev/null || true' EXIT
port=${STOCKLINE_WEB_PORT:-6066}
for _ in $(seq 1 150); do
  grep -q "Worker ready" "$log" 2>/dev/null && break
  kill -0 "$worker" 2>/dev/null || { tail -n 30 "$log" >&2; echo "[demo] the worker exited" >&2; exit 1; }
  sleep 0.2
done
echo "[demo] worker ready (metrics: http://127.0.0.1:$port/metrics, log: $log)" >&2
"$bin/stockline" demo
