#!/usr/bin/env bash
# loadgen vs wrk, measured in one run (not a test; bounded, about two minutes with the defaults).
#   scripts/bench-loadgen.sh [BUILD_DIR]        (default: build; needs BUILD_DIR/loadgen/loadgen)
# Pinning: the load generator on CPU 0, the server on CPU 1 (taskset). Servers: nginx (one
# worker, a fixed 13-byte response, temporary config, foreground, killed after) and, when built,
# lab-target --model reactor. For each: wrk and loadgen closed loop with the same connections
# (requests/s and CPU time per request, from /usr/bin/time), back to back in ROUNDS rounds with
# the ratios' median reported, then a loadgen open-loop run at a high fixed rate that must keep
# its schedule (p99 send lag). Then the curl engine (--engine curl): its ceiling against wrk on
# nginx over cleartext HTTP/1.1, and against h2load (nghttp2-client) over HTTP/2 with TLS on h2o
# (scripts/services.sh start h2o-tls, its processes pinned to CPU 1): one connection carrying
# STREAMS concurrent streams, both clients with the same connection and stream counts.
# Environment: CONNS (50), DURATION (5s), ROUNDS (3), RATE (default min(50k/s, half the closed-loop
# rate)), THREADS (1), LAB_TARGET (lab-target binary), STREAMS (16), PARTS ("asio curl h2": which
# comparisons run).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
loadgen=$build/loadgen/loadgen
target=${LAB_TARGET:-$build/targets/lab-target}
conns=${CONNS:-50}
duration=${DURATION:-5s}
RATE_OPEN=${RATE:-}
closed_rps=100000
threads=${THREADS:-1}
rounds=${ROUNDS:-3}
streams=${STREAMS:-16}
parts=${PARTS:-asio curl h2}
engine=asio
[[ "$rounds" =~ ^[1-9][0-9]?$ ]] || { echo "bench-loadgen: ROUNDS must be 1-99, not '$rounds'" >&2; exit 2; }
for tool in wrk nginx taskset jq /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench-loadgen: '$tool' not found" >&2; exit 1; }
done
[ -x "$loadgen" ] || { echo "bench-loadgen: $loadgen not built (cmake --build $build --target loadgen)" >&2; exit 1; }
[ "$(nproc)" -ge 2 ] || echo "bench-loadgen: fewer than 2 CPUs: client and server share a core" >&2

tmp=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_nginx() {
  local port; port=$(free_port)
  mkdir -p "$tmp/nginx"
  cat >"$tmp/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
master_process off;
error_log $tmp/nginx/error.log warn;
pid $tmp/nginx/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $tmp/nginx;
  proxy_temp_path $tmp/nginx;
  fastcgi_temp_path $tmp/nginx;
  uwsgi_temp_path $tmp/nginx;
  scgi_temp_path $tmp/nginx;
  keepalive_requests 100000000;
  server {
    listen 127.0.0.1:$port;
    location / { default_type text/plain; return 200 "hello world!\n"; }
  }
}
CONF
  taskset -c 1 nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" &
  server_pid=$!
  url="http://127.0.0.1:$port/"
  for _ in $(seq 50); do curl -fs "$url" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "bench-loadgen: nginx did not start" >&2; exit 1
}

start_lab_target() {
  taskset -c 1 "$target" --model reactor --threads 1 --listen 127.0.0.1:0 >"$tmp/target.out" &
  server_pid=$!
  for _ in $(seq 50); do
    url=$(sed -n 's/^listening \(http:.*\)$/\1\//p' "$tmp/target.out")
    [ -n "$url" ] && return 0
    sleep 0.1
  done
  echo "bench-loadgen: lab-target did not start" >&2; exit 1
}

stop_server() { kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; server_pid=; }

cpu_of() { awk '{printf "%.3f", $1 + $2}' "$1"; }

run_wrk() {  # -> "req/s completed cpu_seconds"
  /usr/bin/time -f "%U %S" -o "$tmp/wrk.time" taskset -c 0 wrk -t"$threads" -c"$conns" -d"$duration" "$url" >"$tmp/wrk.out"
  echo "$(awk '/^Requests\/sec:/ {print $2}' "$tmp/wrk.out") $(awk '/requests in/ {print $1}' "$tmp/wrk.out") $(cpu_of "$tmp/wrk.time")"
}

run_loadgen() {  # -> "req/s completed cpu_seconds"
  /usr/bin/time -f "%U %S" -o "$tmp/lg.time" taskset -c 0 "$loadgen" attack "$url" --connections "$conns" \
    --threads "$threads" --duration "$duration" --engine "$engine" --json >"$tmp/lg.json"
  echo "$(jq '.variants[0].tps_mean' "$tmp/lg.json") $(jq '.variants[0].completed' "$tmp/lg.json") $(cpu_of "$tmp/lg.time")"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

# A peer and loadgen back to back, ROUNDS times, the one going first alternating; the ratios are
# taken within a round (a shared machine drifts between rounds) and their median is the result.
# rounds_vs PEER RUN_PEER RUN_LOADGEN: the two run functions print "req/s completed cpu_seconds".
rounds_vs() {
  local peer=$1 run_peer=$2 run_lg=$3
  local r w l ratios="" cpu_ratios="" lg_rps_all=""
  for r in $(seq "$rounds"); do
    if [ $((r % 2)) -eq 1 ]; then w=$($run_peer); l=$($run_lg); else l=$($run_lg); w=$($run_peer); fi
    read -r wrk_rps wrk_n wrk_cpu <<<"$w"
    read -r lg_rps lg_n lg_cpu <<<"$l"
    [ -n "$wrk_n" ] && [ "$wrk_n" -gt 0 ] || { echo "bench-loadgen: $peer completed no request" >&2; return 1; }
    lg_rps_all+="$lg_rps"$'\n'
    awk -v r="$r" -v p="$peer" -v w="$wrk_rps" -v l="$lg_rps" -v wc="$wrk_cpu" -v lc="$lg_cpu" -v wn="$wrk_n" -v ln="$lg_n" 'BEGIN {
      wpr = wc * 1e6 / wn; lpr = lc * 1e6 / ln;
      printf "  round %d: %s %8.0f req/s %5.2f us/req   loadgen %8.0f req/s %5.2f us/req   ratios %.2f / %.2f\n",
        r, p, w, wpr, l, lpr, l / w, lpr / wpr }'
    ratios+=$(awk -v w="$wrk_rps" -v l="$lg_rps" 'BEGIN { printf "%.4f", l / w }')$'\n'
    cpu_ratios+=$(awk -v wc="$wrk_cpu" -v lc="$lg_cpu" -v wn="$wrk_n" -v ln="$lg_n" \
      'BEGIN { printf "%.4f", (lc / ln) / (wc / wn) }')$'\n'
  done
  closed_rps=$(printf '%s' "$lg_rps_all" | median)
  printf '  median   req/s loadgen/%s = %.2f   cpu per request loadgen/%s = %.2f  (loadgen with all histograms on)\n' \
    "$peer" "$(printf '%s' "$ratios" | median)" "$peer" "$(printf '%s' "$cpu_ratios" | median)"
}

compare() {
  local name=$1
  echo "== $name ($url), $conns connections, $duration, $rounds rounds, client on CPU 0, server on CPU 1, loadgen engine $engine"
  rounds_vs wrk run_wrk run_loadgen
  echo "  loadgen ttlb p50/p99 (last round): $(jq -r '.variants[0].ttlb | "\(.p50_us)us / \(.p99_us)us"' "$tmp/lg.json")"
}

open_loop() {
  local name=$1
  # The schedule test needs a rate the server sustains: 50k/s, or half of what it just
  # completed closed-loop when that is lower (a busy or small machine).
  local rate=$RATE_OPEN
  if [ -z "$rate" ]; then
    rate=$(awk -v c="$closed_rps" 'BEGIN { r = c / 2; if (r > 50000) r = 50000; printf "%d/s", r }')
  fi
  echo "== $name open loop at $rate for $duration (client on CPU 0)"
  local rc=0
  taskset -c 0 "$loadgen" attack "$url" --rate "$rate" --threads "$threads" --duration "$duration" --warmup 1s \
    --json >"$tmp/open.json" || rc=$?
  jq -r '.variants[0] | "  sent \(.sent)  tps \(.tps_mean|floor)  send lag p50 \(.send_lag.p50_us)us p99 \(.send_lag.p99_us)us max \(.send_lag.max_us)us  ttlb p99 \(.ttlb.p99_us)us  cpu/req \(.loadgen.cpu_per_request_us|.*100|floor/100)us  saturated \(.loadgen.saturated)"' "$tmp/open.json"
  echo "  exit code $rc (5 = saturated)"
}

# HTTP/2 over TLS: h2load and the curl engine, one connection with $streams streams, against h2o.
run_h2load() {  # -> "req/s completed cpu_seconds"
  /usr/bin/time -f "%U %S" -o "$tmp/h2.time" taskset -c 0 h2load -c 1 -m "$streams" -t 1 -D "${duration%s}" \
    "$url" >"$tmp/h2.out" 2>&1
  echo "$(awk '/^finished in/ {print $4}' "$tmp/h2.out") $(awk '/^requests:/ {print $8}' "$tmp/h2.out") $(cpu_of "$tmp/h2.time")"
}
run_loadgen_h2() {
  /usr/bin/time -f "%U %S" -o "$tmp/lg.time" taskset -c 0 "$loadgen" attack "$url" --http2 --connections "$streams" \
    --max-streams "$streams" --insecure --threads 1 --duration "$duration" --json >"$tmp/lg.json"
  echo "$(jq '.variants[0].tps_mean' "$tmp/lg.json") $(jq '.variants[0].completed' "$tmp/lg.json") $(cpu_of "$tmp/lg.time")"
}
compare_h2() {
  echo "== h2o HTTP/2 over TLS ($url), 1 connection x $streams streams, $duration, $rounds rounds, client on CPU 0, h2o on CPU 1, loadgen engine curl"
  rounds_vs h2load run_h2load run_loadgen_h2
}

for part in $parts; do
  case "$part" in
    asio)
      engine=asio
      start_nginx
      compare nginx
      open_loop nginx
      stop_server
      if [ -x "$target" ]; then
        start_lab_target
        compare "lab-target reactor"
        open_loop "lab-target reactor"
        stop_server
      else
        echo "== lab-target not built ($target): skipped"
      fi
      ;;
    curl)
      engine=curl
      start_nginx
      compare "nginx, curl engine"
      stop_server
      engine=asio
      ;;
    h2)
      command -v h2load >/dev/null || { echo "== h2load not found (apt-get install nghttp2-client): HTTP/2 skipped"; continue; }
      h2name="bench-loadgen-$$"
      url=$(scripts/services.sh start h2o-tls --name "$h2name")/hello
      for pid in $(cat "build/services/$h2name/pid") $(pgrep -P "$(cat "build/services/$h2name/pid")") ; do
        taskset -a -p -c 1 "$pid" >/dev/null
        for child in $(pgrep -P "$pid"); do taskset -a -p -c 1 "$child" >/dev/null; done
      done
      compare_h2 || true
      scripts/services.sh stop "$h2name"
      ;;
    *) echo "bench-loadgen: unknown part '$part' (expected asio, curl, h2)" >&2; exit 2 ;;
  esac
done
