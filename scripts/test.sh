#!/usr/bin/env bash
# Installs what is missing, builds the release preset and runs every ctest test (unit, integration,
# fuzz corpora, benchmark smoke runs). Ends with one line: "N passed, N failed".
#   scripts/test.sh [--preset NAME] [ctest args...]
set -uo pipefail
cd "$(dirname "$0")/.."

preset=release
if [ "${1:-}" = "--preset" ]; then preset="$2"; shift 2; fi

scripts/setup.sh --preset "$preset" || { echo "setup/build failed"; echo "0 passed, 1 failed"; exit 1; }

log=$(mktemp)
ctest --preset "$preset" -j "$(nproc)" --timeout 300 "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# ctest's summary: "NN% tests passed, F tests failed out of T"
summary=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)
rm -f "$log"
if [ -z "$summary" ]; then
  echo "test.sh: ctest printed no summary (no tests ran?)"
  echo "0 passed, 1 failed"
  exit 1
fi
failed=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$summary")
total=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$summary")
echo "$((total - failed)) passed, ${failed} failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
