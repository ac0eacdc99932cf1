#!/usr/bin/env bash
# Memory per idle keep-alive connection: lab-target's models against nginx, in one run, on
# loopback. A benchmark, not a test: it prints figures, it asserts nothing.
#
#   scripts/bench-idle.sh [--build DIR] [--conns 15000] [--path /hello] [--fiber-stack 64KiB]
#
# For nginx (Debian nginx-light, one worker, "return 200" of the same 13 bytes as /hello) and
# each model (MODELS="reactor coroutine" in the environment limits the run), on a fresh server:
# N connections each send one request (--path; nginx always gets /hello), read the answer and
# stay open and idle; the server's RSS (VmRSS of /proc/PID/status, nginx's worker) before and
# after, per connection, and the ratio to nginx's per-connection figure from the same run. For
# lab-target also perflab_target_pooled_buffers_in_use from /metrics once they are idle (the
# /metrics request holds 2 of them itself: its read and response buffers).
#
# Pinning: the server on CPU 1 (lab-target --threads 1 --cpu 1, nginx's one worker), the
# connection holder on CPU 0. Needs file descriptors for N connections on each side: the script
# raises the soft limit to the hard one (20,000 here, so N <= ~19,000).
set -euo pipefail
cd "$(dirname "$0")/.."

build=build
conns=15000
path=/hello
fiber_stack=
models=${MODELS:-thread-per-request thread-pool reactor coroutine fiber io-uring}
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build="$2"; shift ;;
    --conns) conns="$2"; shift ;;
    --path) path="$2"; shift ;;
    --fiber-stack) fiber_stack="$2"; shift ;;
    *) echo "bench-idle.sh: unknown option '$1' (accepted: --build DIR, --conns N, --path P, --fiber-stack S)" >&2; exit 2 ;;
  esac
  shift
done
[[ "$conns" =~ ^[1-9][0-9]*$ ]] || { echo "bench-idle.sh: --conns takes a positive count, not '$conns'" >&2; exit 2; }
[[ "$path" == /* ]] || { echo "bench-idle.sh: --path takes a path starting with '/', not '$path'" >&2; exit 2; }

target="$build/targets/lab-target"
[ -x "$target" ] || { echo "bench-idle.sh: $target not found; build it (cmake --build $build --target lab-target)" >&2; exit 1; }
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx_bin" ] || { echo "bench-idle.sh: nginx not installed (apt-get install nginx-light)" >&2; exit 1; }
[ "$(nproc)" -ge 2 ] || { echo "bench-idle.sh: needs 2 CPUs (server on 1, client on 0)" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)"
if [ "$((conns + 100))" -gt "$(ulimit -n)" ]; then
  echo "bench-idle.sh: --conns $conns needs more file descriptors than the limit $(ulimit -n)" >&2; exit 2
fi

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

status_field() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# Holds N keep-alive connections idle after one request each (its whole response read: head and
# Content-Length body); prints "served failed" once all are answered (or 5 s pass without an answer:
# thread-pool leaves all but its 64 workers' connections queued), then sleeps
# until killed. Connections are opened in batches so the listen backlog never overflows.
cat >"$tmp/hold.py" <<'PY'
import selectors, socket, sys, time
port, n, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
req = ("GET %s HTTP/1.1\r\nHost: bench\r\n\r\n" % path).encode()
sel = selectors.DefaultSelector()
socks, served, failed, pending = [], 0, 0, 0
def done(key, ok):
    global served, failed, pending
    sel.unregister(key.fileobj)
    pending -= 1
    if ok: served += 1
    else: failed += 1
def pump(timeout):
    for key, _ in sel.select(timeout=timeout):
        try:
            data = key.fileobj.recv(65536)
        except OSError:
            data = b""
        buf = key.data
        buf += data
        if not data:
            done(key, False)
            continue
        head_end = buf.find(b"\r\n\r\n")
        if head_end < 0:
            continue
        length = 0
        for line in buf[:head_end].split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if len(buf) >= head_end + 4 + length:
            done(key, buf.startswith(b"HTTP/1.1 200"))
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(req)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ, bytearray())
    socks.append(s)
    pending += 1
    if pending >= 500:
        pump(0)
last, quiet_since = pending, time.time()
while pending and time.time() - quiet_since < 5:  # give up after 5 s without an answer
    pump(0.2)
    if pending != last:
        last, quiet_since = pending, time.time()
print(served, failed, flush=True)
time.sleep(3600)
PY

# Starts the holder against port and waits for its answer; sets served, failed.
hold() {
  : >"$tmp/hold.out"
  taskset -c 0 /usr/bin/python3 "$tmp/hold.py" "$1" "$conns" "$2" >"$tmp/hold.out" 2>"$tmp/hold.err" &
  hpid=$!
  pids+=("$hpid")
  for _ in $(seq 1200); do [ -s "$tmp/hold.out" ] && break; sleep 0.1; done
  if ! read -r served failed <"$tmp/hold.out"; then
    served=0; failed=$conns
    echo "    (the holder gave no answer within 120 s: $(tail -n 3 "$tmp/hold.err"))" >&2
  fi
  sleep 1  # let the server settle (idle waits armed, buffers returned)
}

echo "# bench-idle.sh  $(date -u +%Y-%m-%dT%H:%M:%SZ)  $(uname -r)  $(nproc) CPUs  load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $conns idle keep-alive connections after one GET $path each (nginx: /hello); server on CPU 1, holder on CPU 0"
echo
printf '%-22s %7s %7s %11s %11s %10s %9s %8s %7s\n' server served failed "RSS before" "RSS after" "KiB/conn" "x nginx" threads pooled

# nginx first: its per-connection figure is the reference for the ratios.
mkdir -p "$tmp/nginx"
nginx_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$tmp/nginx/nginx.conf" <<NGX
worker_processes 1;
worker_rlimit_nofile 20000;
daemon off;
master_process on;
error_log $tmp/nginx/error.log warn;
pid $tmp/nginx/nginx.pid;
events { worker_connections 20000; }
http {
  access_log off;
  client_body_temp_path $tmp/nginx;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  server {
    listen 127.0.0.1:$nginx_port backlog=4096;
    location / { default_type text/plain; return 200 "Hello, World!"; }
  }
}
NGX
taskset -c 1 "$nginx_bin" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" 2>"$tmp/nginx/stderr" &
npid=$!
pids+=("$npid")
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$nginx_port/hello" && break; sleep 0.1; done
[ "$(curl -s "http://127.0.0.1:$nginx_port/hello")" = "Hello, World!" ] ||
  { echo "nginx did not start: $(cat "$tmp/nginx/stderr")" >&2; exit 1; }
wpid=$(pgrep -P "$npid" | head -n 1)  # the worker, which holds the connections
rss0=$(status_field "$wpid" VmRSS); thr=$(status_field "$wpid" Threads)
hold "$nginx_port" /hello
rss1=$(status_field "$wpid" VmRSS)
nginx_per=$(awk -v a="$rss0" -v b="$rss1" -v n="$conns" 'BEGIN { printf "%.4f", (b - a) / n }')
printf '%-22s %7d %7d %7.1f MiB %7.1f MiB %10.2f %9s %8d %7s\n' "nginx (1 worker)" "$served" "$failed" \
  "$(awk -v r="$rss0" 'BEGIN { print r / 1024 }')" "$(awk -v r="$rss1" 'BEGIN { print r / 1024 }')" "$nginx_per" 1.00 "$thr" -
stop_pid "$hpid"
stop_pid "$npid"

for model in $models; do
  out="$tmp/$model.out"
  # The event loops get one thread; the thread models keep their own (one per connection, or
  # thread-pool's 64 workers, which serve only the first 64 of the connections: the rest queue).
  args=(--model "$model" --cpu 1 --listen 127.0.0.1:0 --max-connections 20000 --queue 20000 --idle-timeout 300s)
  case "$model" in thread-per-request|thread-pool) ;; *) args+=(--threads 1) ;; esac
  if [ "$model" = fiber ] && [ -n "$fiber_stack" ]; then args+=(--fiber-stack "$fiber_stack"); fi
  taskset -c 1 "$target" "${args[@]}" >"$out" 2>"$tmp/$model.err" &
  tpid=$!
  pids+=("$tpid")
  for _ in $(seq 50); do grep -q listening "$out" 2>/dev/null && break; sleep 0.1; done
  tport=$(sed -n 's|^listening http://127.0.0.1:\([0-9]*\)$|\1|p' "$out")
  if [ -z "$tport" ]; then
    printf '%-22s (did not start: %s)\n' "$model" "$(head -c 200 "$tmp/$model.err")"
    stop_pid "$tpid"
    continue
  fi
  rss0=$(status_field "$tpid" VmRSS)
  hold "$tport" "$path"
  rss1=$(status_field "$tpid" VmRSS); thr=$(status_field "$tpid" Threads)
  # (thread-pool: the scrape waits in the queue behind the held connections, and gets no answer)
  pooled=$( (curl -s -m 5 "http://127.0.0.1:$tport/metrics" || true) | awk '$1 == "perflab_target_pooled_buffers_in_use" { print $2 }')
  label=$model
  [ "$model" = fiber ] && label="fiber ${fiber_stack:-64KiB}"
  awk -v m="$label" -v s="$served" -v f="$failed" -v a="$rss0" -v b="$rss1" -v n="$conns" -v ng="$nginx_per" \
      -v t="$thr" -v p="${pooled:--}" 'BEGIN {
    per = (b - a) / n
    printf "%-22s %7d %7d %7.1f MiB %7.1f MiB %10.2f %9.2f %8d %7s\n", m, s, f, a / 1024, b / 1024, per,
      (ng > 0 ? per / ng : 0), t, p }'
  stop_pid "$hpid"
  stop_pid "$tpid"
done
