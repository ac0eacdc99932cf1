#!/usr/bin/env bash
# Runs scenarios/cache-stampede.toml once per --cache-coalesce setting against a lab-target this
# script starts itself, and prints what only the target knows: its origin calls and coalesced
# waits (from /metrics), next to the loadgen's hit ratio and TTLB. A measurement, not a test.
#
# Two experiments, each with coalescing off and on:
#   ttl         a cold start, then TTL waves (--cache-ttl 3s): the scenario as written
#   invalidate  no TTL; a mass invalidation (PURGE /cache) 4 s into the load, the scenario's
#               [[action]] (sent by the runner): the cold start again, mid-run
#   (the ttl experiment runs the scenario with --set action=[]: the TTL waves alone)
# For each run it also samples the target's origin call counter once a second from the loadgen's
# start and prints origin calls per second beside the loadgen's per-second TTLB p99 and MISS
# count (the loadgen's seconds start a fraction of a second later, after its start-up; on a busy
# machine a scrape can be late too, so the two series may be a second apart).
#
#   scripts/cache-stampede.sh [--build build/release] [--output results] [--only ttl|invalidate]
#
# Pinning: lab-target on CPU 1 (--cpu 1, one event loop), the loadgen on CPU 0 (--set load.cpu=0:
# an external target's run is not pinned by default).
set -euo pipefail
cd "$(dirname "$0")/.."

build=build/release
output=results
only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build="$2"; shift ;;
    --output) output="$2"; shift ;;
    --only) only="$2"; shift ;;
    *) echo "cache-stampede.sh: unknown option '$1' (accepted: --build DIR, --output DIR, --only ttl|invalidate)" >&2; exit 2 ;;
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

case "$only" in ""|ttl|invalidate) ;; *) echo "cache-stampede.sh: --only expects ttl or invalidate, got '$only'" >&2; exit 2 ;; esac

for experiment in ttl invalidate; do
[ -n "$only" ] && [ "$only" != "$experiment" ] && continue
if [ "$experiment" = ttl ]; then
  echo "== cold start and TTL waves (--cache-ttl 3s)"
  ttl=3s
else
  echo "== mass invalidation: PURGE /cache at 4 s (no TTL)"
  ttl=0
fi
printf '%-10s %12s %12s %12s %10s %10s %10s %12s %12s\n' coalesce responses "MISS+STALE" origin_calls coalesced \
  hit_ratio stale "TTLB p50" "TTLB p99"
for coalesce in off on; do
  out=$(mktemp)
  "$target_bin" --model reactor --threads 1 "${pin_target[@]}" --listen 127.0.0.1:0 --cache lru \
    --cache-capacity 1000 --cache-ttl "$ttl" --origin-latency 50ms --cache-coalesce "$coalesce" >"$out" 2>&1 &
  pid=$!
  port=""
  for _ in $(seq 100); do
    port=$(sed -n 's|^listening http://127.0.0.1:\([0-9]*\)$|\1|p' "$out")
    [ -n "$port" ] && break
    sleep 0.05
  done
  [ -n "$port" ] || { echo "cache-stampede.sh: lab-target did not start: $(cat "$out")" >&2; kill "$pid"; exit 1; }
  # From the loadgen's start: origin calls once a second. The loadgen's first second starts a
  # fraction of a second later (its start-up); the PURGE goes out at 4 s of the loadgen's own
  # measured phase (the scenario's [[action]]; run.json's events say exactly when).
  (
    for i in $(seq 0 9); do
      metric "$(curl -s "http://127.0.0.1:$port/metrics")" perflab_cache_origin_calls_total
      sleep 1
    done
  ) >"$out.origin" 2>/dev/null &
  sampler=$!
  set +e
  actions=()
  [ "$experiment" = ttl ] && actions=(--set 'action=[]')  # the TTL waves alone, no PURGE
  "$loadgen_bin" run scenarios/cache-stampede.toml --set "target.url=http://127.0.0.1:$port" "${pin_loadgen[@]}" \
    "${actions[@]}" --output "$output" >"$out.run" 2>&1
  code=$?
  set -e
  wait "$sampler" 2>/dev/null || true
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
    "$(metric "$body" perflab_cache_coalesced_waits_total)" "$out.origin" <<'PY'
import json, sys
run = json.load(open(sys.argv[1]))
v = run["variants"][0]
c = v["cache"]
print(f'{sys.argv[2]:<10} {c["hit"] + c["miss"] + c["stale"] + c["other"]:>12} {c["miss"] + c["stale"]:>12} '
      f'{int(float(sys.argv[3])):>12} {int(float(sys.argv[4])):>10} {v["cache_hit_ratio"]:>10.3f} {c["stale"]:>10} '
      f'{v["ttlb"]["p50_us"] / 1e3:>10.1f}ms {v["ttlb"]["p99_us"] / 1e3:>10.1f}ms')
measured = [p for p in v["series"] if p["phase"] == "measured"]
print("  per second (hit ratio, MISS, STALE): " + "  ".join(
    f'{p["t_s"]:g}s {p["cache_hit_ratio"]:.2f}/{p["cache_miss"]}/{p["cache_stale"]}' for p in measured))
print("  per second TTLB p99: " + "  ".join(f'{p["t_s"]:g}s {p["ttlb_p99_us"] / 1e3:.1f}ms' for p in measured))
samples = [float(x) for x in open(sys.argv[5]).read().split()]
print("  origin calls per second: " + "  ".join(
    f'{i}-{i + 1}s {int(b - a)}' for i, (a, b) in enumerate(zip(samples, samples[1:]))))
for e in v.get("events", []):
    print(f'  {e["kind"]} {e["method"]} {e["path"]}: scheduled {e["at_s"]:g}s, sent {e["start_s"]:.2f}s, '
          f'answered {e["end_s"]:.2f}s, status {e["status"]} {e["error"]}')
print(f"  run: {sys.argv[1]}")
PY
  rm -f "$out" "$out.run" "$out.origin"
done
done
