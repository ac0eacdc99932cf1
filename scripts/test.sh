#!/usr/bin/env bash
# Installs what is missing, builds a preset (release by default) and runs every ctest test: unit
# tests, fuzz corpora and benchmark smoke runs in parallel, then the end-to-end tests labelled
# "integration": one at a time (RUN_SERIAL: they assert latency bands and rates, which a neighbour
# test competing for the 2 cores would disturb), except those labelled "integration-waits" (their
# time is spent waiting on timers and sleeping servers), "integration-functional" (they assert what
# was answered, never a time or a rate) and the services checks, three at a time.
# Ends with one line: "N passed, N failed, N skipped".
#   scripts/test.sh [--preset release|ci|debug|asan|tsan] [extra ctest args...]
set -uo pipefail
cd "$(dirname "$0")/.."

preset=release
if [ "${1:-}" = "--preset" ]; then preset="$2"; shift 2; fi

scripts/setup.sh --preset "$preset" || { echo "test.sh: set-up or build failed"; echo "0 passed, 1 failed"; exit 1; }

log=$(mktemp)
trap 'rm -f "$log"' EXIT
ctest --preset "$preset" -j "$(nproc)" --timeout 300 -LE integration "$@" 2>&1 | tee -a "$log"
s1=${PIPESTATUS[0]}
ctest --preset "$preset" -j 3 --timeout 300 -L integration "$@" 2>&1 | tee -a "$log"
s2=${PIPESTATUS[0]}

# One line per finished test: "N/M Test #K: name ....   Passed|***Failed|***Skipped|***Timeout ...".
passed=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .* Passed +[0-9.]+ sec$' "$log")
skipped=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .*Skipped +[0-9.]+ sec$' "$log")
total=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#[0-9]+: ' "$log")
failed=$((total - passed - skipped))
if [ "$total" -eq 0 ]; then
  echo "test.sh: no test ran"
  echo "0 passed, 1 failed"
  exit 1
fi
if [ "$skipped" -gt 0 ]; then
  # ctest prints no output for a skipped test: each is run again alone, verbose (a skip takes
  # milliseconds), for the reason GoogleTest printed under its "Skipped" line.
  echo "skipped, with their reasons:"
  grep -E '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .*Skipped +[0-9.]+ sec$' "$log" |
    sed -E 's/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: ([^ ]+).*/\1/' | while read -r name; do
      why=$(ctest --preset "$preset" --timeout 60 -R "^${name//./\\.}\$" -V 2>&1 | grep -A1 -m1 ': Skipped$' | tail -1 | sed -E 's/^[0-9]+: //')
      echo "  $name: ${why:-(no reason printed)}"
    done
fi
echo "${passed} passed, ${failed} failed, ${skipped} skipped"
[ "$s1" -eq 0 ] && [ "$s2" -eq 0 ] && [ "$failed" -eq 0 ]
