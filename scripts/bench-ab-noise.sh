#!/usr/bin/env bash
# What `loadgen ab` can and cannot tell on this machine (docs/ci.md, "Measured here"):
#  - the false-positive rate: N A/A runs (the same lab-target on both sides), each judged as CI
#    would judge it; every REGRESSED metric in them is a false positive;
#  - the noise: per metric, the spread of each repeat around its side's median, pooled;
#  - the smallest change it detects: A/B runs against the same lab-target with --test-slowdown
#    (CPU burnt per request on purpose), one run per slowdown.
# Prints one line per run and a summary; the runs stay under build/ab-noise/ (git-ignored).
#   scripts/bench-ab-noise.sh [--aa N] [--slowdowns "5us 10us 20us"] [--scenario FILE] [--repeats N]
set -euo pipefail
cd "$(dirname "$0")/.."

aa=6
slowdowns="5us 10us 20us"
scenario=scenarios/ci-regression.toml
repeats=5
while [ $# -gt 0 ]; do
  case "$1" in
    --aa) aa=$2; shift 2 ;;
    --slowdowns) slowdowns=$2; shift 2 ;;
    --scenario) scenario=$2; shift 2 ;;
    --repeats) repeats=$2; shift 2 ;;
    *) echo "bench-ab-noise: unknown option '$1' (accepted: --aa N, --slowdowns LIST, --scenario FILE, --repeats N)" >&2
       exit 2 ;;
  esac
done
loadgen=build/release/loadgen/loadgen
target=build/release/targets/lab-target
[ -x "$loadgen" ] && [ -x "$target" ] || { echo "bench-ab-noise: build first (scripts/setup.sh)" >&2; exit 2; }
command -v jq >/dev/null || { echo "bench-ab-noise: needs jq (scripts/setup.sh installs it)" >&2; exit 2; }
out=build/ab-noise/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out"

# One ab run; prints "label exit headline regressed-metrics" and each metric's change, p and detectable.
one() {
  local label=$1 cand=$2 rc=0
  "$loadgen" ab "$scenario" --baseline-bin "$target" --candidate-bin "$cand" --repeats "$repeats" \
    --output "$out/$label" --no-report >"$out/$label.log" 2>&1 || rc=$?
  local j
  j=$(ls -d "$out/$label"/*/ab.json 2>/dev/null | head -1)
  if [ -z "$j" ]; then echo "$label: exit $rc, no verdict (log: $out/$label.log)"; return; fi
  jq -r --arg name "$label" --arg rc "$rc" '
    "\($name): exit \($rc) \(.headline); regressed: \([.changes[] | select(.verdict == "regressed") | "\(.variant) \(.metric)"] | join(", ") | if . == "" then "none" else . end)",
    (.changes[] | "  \(.variant) \(.metric): change \(.change * 100 | . * 10 | round / 10)%, p \(.p_value // "-"), noise \(if .noise then (.noise * 1000 | round / 10 | tostring) + "%" else "-" end), detectable \(if .smallest_detectable_change then (.smallest_detectable_change * 1000 | round / 10 | tostring) + "%" else "-" end), \(.verdict)")' "$j"
}

echo "bench-ab-noise: $scenario, $repeats repeats per side; runs in $out"
for i in $(seq 1 "$aa"); do one "aa$i" "$target"; done
for s in $slowdowns; do
  wrapper="$out/lab-target-slow-$s"
  printf '#!/bin/sh\nexec %s --test-slowdown %s "$@"\n' "$(realpath "$target")" "$s" >"$wrapper"
  chmod +x "$wrapper"
  one "slow-$s" "$wrapper"
done

# Summary: false positives over the A/A runs, and the pooled noise per metric.
jq -rs '
  [.[] | select(.sides != null)] as $runs
  | "A/A runs: \($runs | length); judgments: \([$runs[].changes[]] | length); false positives (REGRESSED): \([$runs[].changes[] | select(.verdict == "regressed")] | length); runs with exit 4: \([$runs[] | select(.exit_code == 4)] | length)",
    ([$runs[].changes[]] | group_by(.metric)[] | "  \(.[0].metric): noise per run (median over runs and variants) \([.[].noise | select(. != null)] | sort | if length > 0 then (.[length / 2 | floor] * 1000 | round / 10 | tostring) + "%" else "-" end), detectable with these repeats (median) \([.[].smallest_detectable_change | select(. != null)] | sort | if length > 0 then (.[length / 2 | floor] * 1000 | round / 10 | tostring) + "%" else "-" end)")
' $(ls "$out"/aa*/*/ab.json 2>/dev/null) </dev/null || true
