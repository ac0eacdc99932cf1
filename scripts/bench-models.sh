#!/usr/bin/env bash
# Compares lab-target's concurrency models with each other and with nginx, in one run, on
# loopback. A benchmark, not a test: it prints figures, it asserts nothing.
#
#   scripts/bench-models.sh [--build DIR] [--duration 3s] [--rounds 3] [--conns "10 100 1000"] [--idle 10000 (0: none)]
#
# Pinning: the server under test (lab-target, or nginx with one worker) on CPU 1, the client
# (wrk -t1, and the idle-connection holder) on CPU 0. lab-target runs with --cpu 1, so the event
# loop models have one loop thread; thread-pool keeps its default 64 workers; thread-per-request
# has no thread cap.
#
# Per model it reports:
#   1. idle: N keep-alive connections that each made one request and then stay idle; RSS and
#      threads of the server before and after, per connection (from /proc/PID/status);
#   2. requests/s on /hello at each connection count (wrk, closed loop), and the server's CPU
#      time per request (from /proc/PID/stat), which a busy machine skews less; nginx (Debian
#      nginx-light, 1 worker, "return 200" of the same 13 bytes) is measured in the same rounds,
#      interleaved with the models, and the ratios model/nginx are taken within each round;
#   3. requests/s on /sleep?ms=10 at each connection count (one round; nginx has no such page).
set -euo pipefail
cd "$(dirname "$0")/.."

build=build
duration=3s
rounds=3
conns="10 100 1000"
idle=10000
# MODELS="reactor coroutine" in the environment limits the run to some models.
models=${MODELS:-thread-per-request thread-pool reactor coroutine fiber io-uring}
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build="$2"; shift ;;
    --duration) duration="$2"; shift ;;
    --rounds) rounds="$2"; shift ;;
    --conns) conns="$2"; shift ;;
    --idle) idle="$2"; shift ;;
    *) echo "bench-models.sh: unknown option '$1' (accepted: --build DIR, --duration D, --rounds N, --conns LIST, --idle N)" >&2; exit 2 ;;
  esac
  shift
done
[[ "$rounds" =~ ^[1-9][0-9]?$ ]] || { echo "bench-models.sh: --rounds takes 1-99, not '$rounds'" >&2; exit 2; }
if [ "$idle" -gt 10000 ]; then echo "bench-models.sh: --idle is capped at 10000" >&2; idle=10000; fi

target="$build/targets/lab-target"
[ -x "$target" ] || { echo "bench-models.sh: $target not found; build it (cmake --build $build --target lab-target)" >&2; exit 1; }
command -v wrk >/dev/null || { echo "bench-models.sh: wrk not installed (apt-get install wrk)" >&2; exit 1; }
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx_bin" ] || { echo "bench-models.sh: nginx not installed (apt-get install nginx-light)" >&2; exit 1; }
[ "$(nproc)" -ge 2 ] || { echo "bench-models.sh: needs 2 CPUs (server on 1, client on 0)" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)"

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

status_field() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

# Holds N keep-alive connections idle after one request each; prints "served refused unanswered"
# once the answers are in (or after 10 s), then sleeps until killed.
cat >"$tmp/hold.py" <<'PY'
import selectors, socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
sel = selectors.DefaultSelector()
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /hello HTTP/1.1\r\nHost: bench\r\n\r\n")
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ, bytearray())
    socks.append(s)
served = refused = 0
pending = n
deadline = time.time() + 10
while pending and time.time() < deadline:
    for key, _ in sel.select(timeout=0.2):
        try:
            data = key.fileobj.recv(4096)
        except OSError:
            data = b""
        buf = key.data
        buf += data
        if not data or b"\r\n\r\n" in buf:
            if buf.startswith(b"HTTP/1.1 200"):
                served += 1
            else:
                refused += 1
            sel.unregister(key.fileobj)
            pending -= 1
print(served, refused, pending, flush=True)
time.sleep(3600)
PY

start_target() {  # model -> sets tpid, tport
  local out="$tmp/$1.out" err="$tmp/$1.err"
  taskset -c 1 "$target" --model "$1" --cpu 1 --listen 127.0.0.1:0 --max-connections 20000 --queue 20000 \
    >"$out" 2>"$err" &
  tpid=$!
  pids+=("$tpid")
  for _ in $(seq 50); do grep -q listening "$out" 2>/dev/null && break; sleep 0.1; done
  tport=$(sed -n 's|^listening http://127.0.0.1:\([0-9]*\)$|\1|p' "$out")
  [ -n "$tport" ] || { echo "lab-target --model $1 did not start: $(cat "$err")" >&2; exit 1; }
}
stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }  # utime + stime, in clock ticks
clk_tck=$(getconf CLK_TCK)

# "RPS CPU_US_PER_REQUEST" for url with c connections: wrk's Requests/sec, and the server
# process's CPU time (user + system, from /proc/PID/stat) per completed request. The second
# figure does not depend on how much CPU other processes left us, so it compares servers fairly
# on a busy machine.
measure() {
  local pid=$1 c=$2 url=$3
  local t0 t1 out
  t0=$(cpu_ticks "$pid")
  out=$(taskset -c 0 wrk -t1 -c"$c" -d"$duration" --timeout 5s "$url" 2>&1 || true)
  t1=$(cpu_ticks "$pid")
  local errs; errs=$(awk '/Socket errors:|Non-2xx/ { printf "%s ", $0 }' <<<"$out")
  [ -n "$errs" ] && echo "    ($url c=$c: $errs)" >&2
  awk -v t0="$t0" -v t1="$t1" -v hz="$clk_tck" '
    /^Requests\/sec:/ { rps = $2 }
    / requests in / { n = $1 }
    END { printf "%.0f %.2f", rps, (n > 0 ? (t1 - t0) / hz * 1e6 / n : 0) }' <<<"$out"
}

echo "# bench-models.sh  $(date -u +%Y-%m-%dT%H:%M:%SZ)  $(uname -r)  $(nproc) CPUs"
echo "# server on CPU 1, client (wrk -t1 / idle holder) on CPU 0; wrk $duration per point, $rounds rounds"
echo

# nginx and every model run side by side (each idle while another is measured), and each round
# measures all of them at each connection count in a rotated order, so a slow minute on a shared
# machine hits every server instead of whichever happened to be measured then. The ratios are
# taken within a round and the median over rounds is reported.
mkdir -p "$tmp/nginx"
cat >"$tmp/nginx/nginx.conf" <<NGX
worker_processes 1;
daemon off;
master_process on;
error_log $tmp/nginx/error.log warn;
pid $tmp/nginx/nginx.pid;
events { worker_connections 20000; }
http {
  access_log off;
  client_body_temp_path $tmp/nginx;
  keepalive_requests 100000000;
  keepalive_timeout 75s;
  server {
    listen 127.0.0.1:0;
    location /hello { default_type text/plain; return 200 "Hello, World!"; }
  }
}
NGX
nginx_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sed -i "s|listen 127.0.0.1:0;|listen 127.0.0.1:$nginx_port;|" "$tmp/nginx/nginx.conf"
taskset -c 1 "$nginx_bin" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" 2>"$tmp/nginx/stderr" &
npid=$!
pids+=("$npid")
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$nginx_port/hello" && break; sleep 0.1; done
[ "$(curl -s "http://127.0.0.1:$nginx_port/hello")" = "Hello, World!" ] ||
  { echo "nginx did not start: $(cat "$tmp/nginx/stderr")" >&2; exit 1; }

declare -A url pid_of rps cpu
servers=(nginx)
url[nginx]="http://127.0.0.1:$nginx_port"
pid_of[nginx]=$(pgrep -P "$npid" | head -n 1)  # the worker, which does the serving
for model in $models; do
  start_target "$model"
  servers+=("$model")
  url[$model]="http://127.0.0.1:$tport"
  pid_of[$model]=$tpid
done

nservers=${#servers[@]}
for round in $(seq "$rounds"); do
  for c in $conns; do
    for i in $(seq 0 $((nservers - 1))); do
      s=${servers[$(((i + round - 1) % nservers))]}
      read -r r u <<<"$(measure "${pid_of[$s]}" "$c" "${url[$s]}/hello")"
      rps[$s,$c,$round]=$r
      cpu[$s,$c,$round]=$u
    done
  done
  echo "round $round of $rounds done" >&2
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
series() {  # server c -> "v1 v2 ..." of array $3 over the rounds
  local out="" k
  for round in $(seq "$rounds"); do
    k="$1,$2,$round"
    if [ "$3" = rps ]; then out+="${rps[$k]} "; else out+="${cpu[$k]} "; fi
  done
  echo "$out"
}

echo "/hello: median requests/s over $rounds rounds, and in brackets the server's CPU microseconds per request"
printf '%-20s' "server"; for c in $conns; do printf ' %18s' "c=$c"; done; echo
for s in "${servers[@]}"; do
  printf '%-20s' "$s"
  for c in $conns; do
    printf ' %18s' "$(series "$s" "$c" rps | median | awk '{ printf "%.0f", $1 }') [$(series "$s" "$c" cpu | median)]"
  done
  echo
done

echo
echo "/sleep?ms=10: requests/s [CPU microseconds per request], one round"
for model in $models; do
  printf '%-20s' "$model"
  for c in $conns; do
    read -r r u <<<"$(measure "${pid_of[$model]}" "$c" "${url[$model]}/sleep?ms=10")"
    printf ' %18s' "$r [$u]"
  done
  echo
done
for model in $models; do stop_pid "${pid_of[$model]}"; done
stop_pid "$npid"

echo
echo "model vs nginx on /hello, ratios taken within each round: median (min-max) of requests/s"
echo "(>= 1.00: at least as many as nginx), and in brackets the median of nginx's CPU per request"
echo "divided by ours (>= 1.00: no more CPU per request than nginx)"
for model in $models; do
  printf '%-20s' "$model"
  for c in $conns; do
    ratios="" cratios=""
    for round in $(seq "$rounds"); do
      ratios+=$(awk -v a="${rps[$model,$c,$round]}" -v b="${rps[nginx,$c,$round]}" 'BEGIN { printf "%.4f ", (b > 0 ? a / b : 0) }')
      cratios+=$(awk -v a="${cpu[$model,$c,$round]}" -v b="${cpu[nginx,$c,$round]}" 'BEGIN { printf "%.4f ", (a > 0 ? b / a : 0) }')
    done
    lo=$(tr ' ' '\n' <<<"$ratios" | grep -v '^$' | sort -g | head -n 1)
    hi=$(tr ' ' '\n' <<<"$ratios" | grep -v '^$' | sort -g | tail -n 1)
    printf '  c=%s: %.2f (%.2f-%.2f) [%.2f]' "$c" "$(median <<<"$ratios")" "$lo" "$hi" "$(median <<<"$cratios")"
  done
  echo
done

# Idle connections, each model on a fresh server (--idle 0: none, the section is left out).
declare -A idle_report
[ "$idle" -gt 0 ] || exit 0
for model in $models; do
  start_target "$model"
  rss0=$(status_field "$tpid" VmRSS); thr0=$(status_field "$tpid" Threads)
  taskset -c 0 /usr/bin/python3 "$tmp/hold.py" "$tport" "$idle" >"$tmp/hold.out" 2>"$tmp/hold.err" &
  hpid=$!
  pids+=("$hpid")
  for _ in $(seq 900); do [ -s "$tmp/hold.out" ] && break; sleep 0.1; done
  sleep 0.5
  rss1=$(status_field "$tpid" VmRSS); thr1=$(status_field "$tpid" Threads)
  if ! read -r served refused unanswered <"$tmp/hold.out"; then
    served=0; refused=0; unanswered=$idle
    echo "    (idle holder for $model gave no answer within 90 s: $(tail -n 3 "$tmp/hold.err"))" >&2
  fi
  idle_report[$model]=$(awk -v m="$model" -v n="$idle" -v s="$served" -v f="$refused" -v u="$unanswered" \
      -v r0="$rss0" -v r1="$rss1" -v t0="$thr0" -v t1="$thr1" 'BEGIN {
    printf "%-20s %6d %7s %7s %10s %9.1f MiB %9.1f MiB %8.2f KiB %7d %7d %8.3f", m, n, s, f, u,
      r0 / 1024, r1 / 1024, (r1 - r0) / n, t0, t1, (t1 - t0) / n }')
  stop_pid "$hpid"
  stop_pid "$tpid"
done

echo
echo "idle keep-alive connections (one request each, then idle)"
printf '%-20s %6s %7s %7s %10s %13s %13s %12s %7s %7s %8s\n' model conns served refused unanswered \
  "RSS before" "RSS after" "RSS/conn" threads0 threads "thr/conn"
for model in $models; do echo "${idle_report[$model]}"; done
