#!/usr/bin/env bash
# Mutation testing (mutmut) of one layer against its fast, pure unit tests only:
#
#   deploy/local/mutation.sh [domain|service_layer] [MODULE...]
#
#   domain         services/stockline/domain/        against tests/unit/domain (default)
#   service_layer  services/stockline/service_layer/ against tests/unit/service_layer
#   MODULE         only these modules, e.g. ledger retention (default: the whole layer)
#
# Prints killed / survived / timeout / total per module and writes the surviving mutants
# (and those no test reached), one `name: status` a line, to out/mutation/<target>.txt;
# the diff of one of them:
#   cd out/mutation/<target> && ../../../.venv/bin/mutmut show <name>
# Needs only the .venv of deploy/local/setup.sh (no Kafka, no Redis). One worker process
# (STOCKLINE_MUTATION_WORKERS to change): 3 to 5 minutes a layer.
set -euo pipefail
# a step that fails says which one (set -e alone exits without a word)
trap 'echo "[mutation] error: \"$BASH_COMMAND\" failed (exit $?, line $LINENO of $0)" >&2' ERR
root=$(cd "$(dirname "$0")/../.." && pwd)
target=${1:-domain}
shift $(($# > 0 ? 1 : 0))
case "$target" in
  domain | service_layer) ;;
  *) echo "usage: $0 [domain|service_layer] [MODULE...]" >&2; exit 2 ;;
esac
[ -x "$root/.venv/bin/mutmut" ] || { echo "[mutation] run deploy/local/setup.sh first" >&2; exit 1; }

# mutmut imports the mutated copy from mutants/src/ and names mutants after the module,
# so it runs in a staging directory where services/ is seen as src/ (stockline.domain...).
work="$root/out/mutation/$target"
rm -rf "$work" && mkdir -p "$work"
ln -s "$root/services" "$work/src"
ln -s "$root/tests" "$work/tests"
cp "$root/pyproject.toml" "$work/"
if [ $# -eq 0 ]; then
  only="    src/stockline/$target/*"
else
  only=$(printf "    src/stockline/$target/%s.py\n" "$@")
fi
cat >"$work/setup.cfg" <<EOF
[mutmut]
source_paths = src/
only_mutate =
$only
pytest_add_cli_args_test_selection = tests/unit/$target
# a mutant that loops is stopped after 6x the CPU time of its tests (mutmut's default: 30x)
timeout_multiplier = 3
EOF

cd "$work"
start=$(date +%s)
# CI=true: the tests' derandomized Hypothesis profile, so a rerun kills the same mutants
CI=true "$root/.venv/bin/mutmut" run --max-children "${STOCKLINE_MUTATION_WORKERS:-1}" \
  >"$work/run.log" 2>&1 || { tail -20 "$work/run.log" >&2; exit 1; }
elapsed=$(($(date +%s) - start))
"$root/.venv/bin/mutmut" results --all true >"$work/results.txt"
grep -E ': (survived|no tests)$' "$work/results.txt" | sed 's/^ *//' >"$root/out/mutation/$target.txt" || true
"$root/.venv/bin/python" - "$work/results.txt" "$elapsed" <<'EOF'
import collections, re, sys

counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
for line in open(sys.argv[1]):
    name, _, status = line.strip().rpartition(": ")
    module = re.split(r"\.x[_ǁ]", name, maxsplit=1)[0]
    counts[module][status] += 1
    counts["all"][status] += 1
print(f"{'module':40} {'killed':>7} {'survived':>8} {'timeout':>7} {'other':>5} {'total':>5} score")
for module in sorted(counts, key=lambda m: (m == "all", m)):
    c = counts[module]
    total = sum(c.values())
    other = total - c["killed"] - c["survived"] - c["timeout"]
    print(
        f"{module:40} {c['killed']:7} {c['survived']:8} {c['timeout']:7} {other:5} {total:5}"
        f" {c['killed'] / total:6.1%}"
    )
print(f"wall time {int(sys.argv[2]) // 60} min {int(sys.argv[2]) % 60} s")
EOF
echo "[mutation] survivors: out/mutation/$target.txt" >&2
