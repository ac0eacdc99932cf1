#!/usr/bin/env bash
# Runs scenarios/cache-stampede.toml once per --cache-coalesce setting against a lab-target this
# script starts itself, and prints what only the target knows: its origin calls and coalesced
# waits (from /metrics), next to the loadgen's hit ratio and TTLB. A measurement, not a test.
#
#   scripts/cache-stampede.sh [--build build/release] [--output results]
#
# Pinning: lab-target on CPU 1 (--cpu 1, one event loop), the loadgen on CPU 0 (--set load.cpu=0:
# an external target's run is not pinned by default).
set -euo pipefail
cd "$(dirname "$0")/.."

build=build/release
output=results
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build="$2"; shift ;;
    --output) output="$2"; shift ;;
    *) echo "cache-stampede.sh: unknown option '$1' (accepted: --build DIR, --output DIR)" >&2; exit 2 ;;
  esac
  shift
done
target_bin="$build/targets/lab-target"
loadgen_bin="$build/loadgen/loadgen"
for b in "$target_bin" "$loadgen_bin"; do
  [ -x "$b" ] || { echo "cache-stampede.sh: $b not built (cmake --build $build --target lab-target loadgen)" >&2; exit 1; }
done
cpus=$(nproc)
pin_target=() pin_loadgen=()
if [ "$cpus" -ge 2 ]; then
  pin_target=(--cpu 1)
  pin_loadgen=(--set load.cpu=0)
fi

metric() {  # metric BODY NAME: the sample's value, 0 when absent
  printf '%s\n' "$1" | awk -v n="$2" '$1 == n { print $2; found = 1 } END { if (!found) print 0 }'
}

printf '%-10s %12s %12s %12s %10s %10s %10s %12s %12s\n' coalesce responses "MISS+STALE" origin_calls coalesced \
  hit_ratio stale "TTLB p50" "TTLB p99"
for coalesce in off on; do
  out=$(mktemp)
  "$target_bin" --model reactor --threads 1 "${pin_target[@]}" --listen 127.0.0.1:0 --cache lru \
    --cache-capacity 1000 --cache-ttl 3s --origin-latency 50ms --cache-coalesce "$coalesce" >"$out" 2>&1 &
  pid=$!
  port=""
  for _ in $(seq 100); do
    port=$(sed -n 's|^listening http://127.0.0.1:\([0-9]*\)$|\1|p' "$out")
    [ -n "$port" ] && break
    sleep 0.05
  done
  [ -n "$port" ] || { echo "cache-stampede.sh: lab-target did not start: $(cat "$out")" >&2; kill "$pid"; exit 1; }
  set +e
  "$loadgen_bin" run scenarios/cache-stampede.toml --set "target.url=http://127.0.0.1:$port" "${pin_loadgen[@]}" \
    --output "$output" >"$out.run" 2>&1
  code=$?
  set -e
  body=$(curl -s "http://127.0.0.1:$port/metrics")
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  run_dir=$(sed -n 's|^results: \(.*\)/run.json$|\1|p' "$out.run" | tail -1)
  if [ -z "$run_dir" ] || [ ! -f "$run_dir/run.json" ]; then
    echo "cache-stampede.sh: loadgen run exited $code without results:" >&2
    cat "$out.run" >&2
    exit 1
  fi
  python3 - "$run_dir/run.json" "$coalesce" "$(metric "$body" perflab_cache_origin_calls_total)" \
    "$(metric "$body" perflab_cache_coalesced_waits_total)" <<'PY'
import json, sys
run = json.load(open(sys.argv[1]))
v = run["variants"][0]
c = v["cache"]
print(f'{sys.argv[2]:<10} {c["hit"] + c["miss"] + c["stale"] + c["other"]:>12} {c["miss"] + c["stale"]:>12} '
      f'{int(float(sys.argv[3])):>12} {int(float(sys.argv[4])):>10} {v["cache_hit_ratio"]:>10.3f} {c["stale"]:>10} '
      f'{v["ttlb"]["p50_us"] / 1e3:>10.1f}ms {v["ttlb"]["p99_us"] / 1e3:>10.1f}ms')
print("  per second (hit ratio, MISS, STALE): " + "  ".join(
    f'{p["t_s"]:g}s {p["cache_hit_ratio"]:.2f}/{p["cache_miss"]}/{p["cache_stale"]}'
    for p in v["series"] if p["phase"] == "measured"))
print(f"  run: {sys.argv[1]}")
PY
  rm -f "$out" "$out.run"
done
