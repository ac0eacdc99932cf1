#!/usr/bin/env bash
# What a 202 hides (issue 18; docs/experiments/async-202.md): for each rate, lab-target (reactor,
# one loop on CPU 1, 4 job workers x 20 ms, a queue of 200) takes POST /jobs from `loadgen attack`
# (open loop, CPU 0) for DURATION; after the workers have finished, /metrics gives the accept ->
# done histogram (perflab_jobs_completion_seconds). Prints the 202's latency (loadgen) next to
# the completion latency (server) per rate. Bucket quantiles are upper bounds of their bucket.
# Usage: scripts/async-202-completion.sh [BUILD_DIR] (env: RATES, DURATION, TARGET_BIN, LOADGEN_BIN)
set -euo pipefail
build=${1:-build/release}
target=${TARGET_BIN:-$build/targets/lab-target}
loadgen=${LOADGEN_BIN:-$build/loadgen/loadgen}
rates=${RATES:-"100 180 250 400"}
duration=${DURATION:-5s}
for f in "$target" "$loadgen"; do [[ -x $f ]] || { echo "missing $f (build lab-target and loadgen)" >&2; exit 2; }; done
work=$(mktemp -d)
pid=
cleanup() { [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
for rate in $rates; do
  "$target" --model reactor --threads 1 --cpu 1 --listen 127.0.0.1:0 --job-workers 4 --job-work 20ms \
    --job-queue 200 >"$work/out" 2>"$work/err" &
  pid=$!
  for _ in $(seq 100); do grep -q listening "$work/out" && break; sleep 0.05; done
  url=$(sed -n 's/^listening //p' "$work/out")
  "$loadgen" attack "$url/jobs" -m POST --rate "$rate" -d "$duration" --cpus 0 --max-error-rate 100% \
    --json >"$work/run.json" 2>"$work/lg.err" || true
  # Let the workers finish the queue (200 jobs x 20 ms / 4 workers = 1 s at most).
  for _ in $(seq 60); do
    curl -s "$url/metrics" >"$work/metrics"
    grep -q '^perflab_jobs_queued 0$' "$work/metrics" && grep -q '^perflab_jobs_running 0$' "$work/metrics" && break
    sleep 0.1
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
  python3 - "$rate" "$work/run.json" "$work/metrics" <<'PY'
import json, re, sys
rate, run, metrics = sys.argv[1:]
buckets, t = [], {}
for line in open(metrics):
    if m := re.match(r'perflab_jobs_completion_seconds_bucket\{le="([^"]+)"\} (\d+)', line):
        buckets.append((float("inf") if m[1] == "+Inf" else float(m[1]), int(m[2])))
    elif m := re.match(r'perflab_jobs_completion_seconds_(sum|count) (\S+)', line):
        t[m[1]] = float(m[2])
    elif m := re.match(r'perflab_jobs_total\{result="(\w+)"\} (\d+)', line):
        t[m[1]] = int(m[2])
def q(p):
    return next(le for le, c in buckets if c >= p * buckets[-1][1]) * 1000
v = json.load(open(run))["variants"][0]
print(f"rate {rate}/s: 202 TTLB p50 {v['ttlb']['p50_us'] / 1000:.2f} ms, p99 {v['ttlb']['p99_us'] / 1000:.2f} ms | "
      f"accepted {t['accepted']}, refused {t['refused']}, done {t['done']} | completion mean "
      f"{1000 * t['sum'] / max(t['count'], 1):.0f} ms, p50 <= {q(.5):g} ms, p99 <= {q(.99):g} ms")
PY
done
