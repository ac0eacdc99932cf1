#!/usr/bin/env bash
# The stock invariant after a sell-out run, per strategy (issue 18; docs/experiments/stock-contention.md).
# For each --stock-strategy: lab-target (reactor, or MODEL) pinned to CPU 1 with INITIAL units of
# one item; `loadgen attack` pinned to CPU 0 with CONNS closed-loop connections POSTing
# /stock/0/buy?qty=1 for DURATION (far more demand than stock, no warm-up); then GET /stock/0
# and /metrics. Prints one row per strategy and exits 1 if any check fails:
#   sold + remaining = initial, remaining >= 0 (GET /stock/0 says ok)
#   sold = the 200s the loadgen counted = the server's own count of 200s (nothing sold twice,
#   nothing sold without a buyer hearing it), and every other answer a 409
# Usage: scripts/stock-invariant.sh [BUILD_DIR] (env: MODEL, THREADS, INITIAL, CONNS, DURATION,
# STRATEGIES, TARGET_BIN, LOADGEN_BIN, EXTRA: more lab-target options, e.g. the PostgreSQL strategies'
#   STRATEGIES='pg-row-lock pg-optimistic' EXTRA="--stock-db $(scripts/services.sh start postgres)")
set -euo pipefail
build=${1:-build/release}
model=${MODEL:-reactor}
threads=${THREADS:-1}
initial=${INITIAL:-100000}
conns=${CONNS:-256}
duration=${DURATION:-3s}
strategies=${STRATEGIES:-"mutex atomic sharded single-writer"}
read -r -a extra <<<"${EXTRA:-}"
target=${TARGET_BIN:-$build/targets/lab-target}
loadgen=${LOADGEN_BIN:-$build/loadgen/loadgen}
for f in "$target" "$loadgen"; do [[ -x $f ]] || { echo "missing $f (build lab-target and loadgen)" >&2; exit 2; }; done
cpu_target=1 cpu_load=0
[[ $(nproc) -lt 2 ]] && cpu_target=0
work=$(mktemp -d)
pid=
cleanup() { [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
metric() { grep -E "^$1 " "$work/metrics" | awk '{print $2}'; }
fail=0
printf '%-14s %9s %9s %9s %9s %9s %9s %9s %6s\n' strategy tps 200s 409s other sold remaining srv_200 check
for s in $strategies; do
  "$target" --model "$model" --threads "$threads" --listen 127.0.0.1:0 --cpu "$cpu_target" \
    --stock-strategy "$s" --stock-initial "$initial" "${extra[@]}" >"$work/out" 2>"$work/err" &
  pid=$!
  for _ in $(seq 100); do grep -q listening "$work/out" && break; sleep 0.05; done
  url=$(sed -n 's/^listening //p' "$work/out")
  "$loadgen" attack "$url/stock/0/buy?qty=1" -m POST -c "$conns" -d "$duration" --cpus "$cpu_load" \
    --success 2xx --max-error-rate 100% --json >"$work/run.json" 2>"$work/lg.err" || true
  curl -s "$url/stock/0" >"$work/stock"
  curl -s "$url/metrics" >"$work/metrics"
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
  read -r tps ok c4 other < <(python3 - "$work/run.json" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))["variants"][0]
e = v["errors"]
other = sum(n for k, n in e.items() if k != "status_4xx")
print(f'{v["tps_mean"]:.0f}', v["succeeded"], e["status_4xx"], other)
PY
)
  read -r sold remaining okflag < <(python3 - "$work/stock" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
print(j["sold"], j["remaining"], str(j["ok"]).lower())
PY
)
  srv200=$(metric 'perflab_target_requests_total\{endpoint="stock_buy",status="200"\}')
  check=ok
  if [[ $okflag != true || $((sold + remaining)) -ne $initial || $remaining -lt 0 || $sold -ne $ok || $sold -ne ${srv200%.*} || $other -ne 0 ]]; then
    check=FAIL; fail=1
  fi
  printf '%-14s %9s %9s %9s %9s %9s %9s %9s %6s\n' "$s" "$tps" "$ok" "$c4" "$other" "$sold" "$remaining" "$srv200" "$check"
done
exit $fail
