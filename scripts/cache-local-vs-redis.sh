#!/usr/bin/env bash
# Experiment 6: runs scenarios/cache-local-vs-redis.toml once per variant (no cache, local LRU,
# Redis alone, local in front of Redis) against a throwaway redis-server from scripts/services.sh,
# filled first with every key the load draws (so the Redis variants measure hits, not compulsory
# misses). Prints hit ratio, TTLB p50/p99, the target's CPU per request (run.json) and Redis's own
# CPU per request (/proc, around each run), which the target's number does not include.
# A measurement, not a test.
#
#   scripts/cache-local-vs-redis.sh [--build build/release] [--output results] [--rounds N]
#
# --rounds N runs the four variants N times, interleaved, so that a busy machine's drift falls on
# all of them alike. Columns: hit ratio, TTLB p50/p99 from the intended send time (corrected) and
# from the actual send (uncorrected: less sensitive to a loadgen starved of CPU), CPU per request
# of lab-target and of redis-server, and "saturated" when the loadgen fell behind its schedule.
#
# Pinning (2+ CPUs): the loadgen on CPU 0, lab-target on CPU 1 (the runner's default), and
# redis-server on CPU 1 too (taskset), beside the target: a remote cache on this machine costs
# the server's CPU, not the client's.
set -euo pipefail
cd "$(dirname "$0")/.."

build=build/release
output=results
rounds=1
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build="$2"; shift ;;
    --output) output="$2"; shift ;;
    --rounds) rounds="$2"; shift ;;
    *) echo "cache-local-vs-redis.sh: unknown option '$1' (accepted: --build DIR, --output DIR, --rounds N)" >&2; exit 2 ;;
  esac
  shift
done
loadgen_bin="$build/loadgen/loadgen"
for b in "$build/targets/lab-target" "$loadgen_bin"; do
  [ -x "$b" ] || { echo "cache-local-vs-redis.sh: $b not built (cmake --build $build --target lab-target loadgen)" >&2; exit 1; }
done
command -v redis-cli >/dev/null || { echo "cache-local-vs-redis.sh: redis-cli not found (scripts/setup.sh installs redis-server)" >&2; exit 1; }

name="cache-local-vs-redis-$$"
url=$(scripts/services.sh start redis --name "$name")
trap 'scripts/services.sh stop "$name" >/dev/null 2>&1 || true' EXIT
port=${url##*:}
redis_pid=$(cat "build/services/$name/pid")
[ "$(nproc)" -ge 2 ] && taskset -pc 1 "$redis_pid" >/dev/null

# Every key of the load (0..9999), as lab-target's origin would have stored it (100-byte values).
python3 - <<'PY' | redis-cli -p "$port" --pipe >/dev/null
import sys
out = sys.stdout
for k in range(10000):
    key = f"perflab:{k}"
    value = f"key={k} call=0"
    value = value + "." * (99 - len(value)) + "\n"
    out.write(f"*3\r\n$3\r\nSET\r\n${len(key)}\r\n{key}\r\n${len(value)}\r\n{value}\r\n")
PY
echo "redis $url: $(redis-cli -p "$port" dbsize) keys loaded"

redis_cpu() {  # utime + stime of redis-server, seconds
  awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$redis_pid/stat"
}

printf '%-12s %6s %9s %9s %9s %9s %11s %11s %10s\n' variant hits p50 p99 "p50 unc." "p99 unc." "target CPU" "redis CPU" loadgen
for round in $(seq "$rounds"); do
for variant in "none|none" "lru|none" "none|$url" "lru|$url"; do
  cache=${variant%%|*}
  remote=${variant#*|}
  case "$cache|$remote" in
    "none|none") label="no cache" ;;
    "lru|none") label="local lru" ;;
    "none|"*) label="redis" ;;
    *) label="lru + redis" ;;
  esac
  before=$(redis_cpu)
  log=$(mktemp)
  set +e
  "$loadgen_bin" run scenarios/cache-local-vs-redis.toml --set "matrix.target.cache=[\"$cache\"]" \
    --set "matrix.target.cache-remote=[\"$remote\"]" --output "$output" >"$log" 2>&1
  code=$?
  set -e
  after=$(redis_cpu)
  run_dir=$(sed -n 's|^results: \(.*\)/run.json$|\1|p' "$log" | tail -1)
  if [ -z "$run_dir" ] || [ ! -f "$run_dir/run.json" ]; then
    echo "cache-local-vs-redis.sh: loadgen run exited $code without results:" >&2
    cat "$log" >&2
    exit 1
  fi
  python3 - "$run_dir/run.json" "$label" "$before" "$after" <<'PY'
import json, sys
run = json.load(open(sys.argv[1]))
v = run["variants"][0]
t = v["target"]
# The target's and Redis's CPU cover the whole variant, warm-up included; the series only the
# measured phase: scale its count by (warm-up + measured) / measured.
load = v["load"]
served = v["completed"] * (load["warmup_s"] + v["measured_s"]) / v["measured_s"]
target_cpu = (t["cpu_user_s"] + t["cpu_system_s"]) / served * 1e6
redis_cpu = (float(sys.argv[4]) - float(sys.argv[3])) / served * 1e6
ms = lambda us: f"{us / 1e3:.2f}ms"
print(f'{sys.argv[2]:<12} {v["cache_hit_ratio"]:>6.3f} {ms(v["ttlb"]["p50_us"]):>9} {ms(v["ttlb"]["p99_us"]):>9} '
      f'{ms(v["ttlb_uncorrected"]["p50_us"]):>9} {ms(v["ttlb_uncorrected"]["p99_us"]):>9} '
      f'{target_cpu:>9.1f}us {redis_cpu:>9.1f}us {"saturated" if v["loadgen"]["saturated"] else "":>10}  {sys.argv[1]}')
PY
  rm -f "$log"
done
done
