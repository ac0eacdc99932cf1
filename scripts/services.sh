#!/usr/bin/env bash
# Throwaway backing servers for experiments and tests: PostgreSQL, Redis and two TLS web servers
# (h2o, nginx), each on a free port of 127.0.0.1, with its data, log and pid under
# build/services/<name>/. Nothing is registered with the system (no systemd unit, no cluster in
# /etc/postgresql); stop removes the instance.
#
#   scripts/services.sh start SERVICE [--name NAME] [--access-log]   prints the URL on stdout
#       SERVICE: postgres | redis | h2o-tls | nginx-tls
#       --access-log (h2o-tls, nginx-tls): one line per request in build/services/NAME/access.log,
#       "<resumed> <protocol> <status>": whether the connection's TLS session was resumed (h2o: 1
#       or 0; nginx: r or .), e.g. "r HTTP/2.0 200". Unbuffered: exact counts, a write per request.
#   scripts/services.sh url NAME                             the URL of a running instance
#   scripts/services.sh stop NAME|--all [--keep]             stops it; --keep keeps its files
#   scripts/services.sh status [NAME]                        one line per instance
#
# NAME defaults to the service's name; tests that may run side by side give their own
# (e.g. --name pool-test-$$). Starting a running instance prints its URL again.
# URLs: postgres://perflab@127.0.0.1:PORT/perflab (trust authentication, loopback only),
# redis://127.0.0.1:PORT, and https://127.0.0.1:PORT for h2o-tls and nginx-tls: HTTP/1.1 and
# HTTP/2 (ALPN) over TLS with a throwaway self-signed certificate for 127.0.0.1 and localhost,
# build/services/NAME/cert.pem (give it to clients as their CA: curl --cacert), serving
# GET /hello -> "Hello, World!" (the 13 bytes lab-target answers); nginx-tls also answers /jobs
# with 202 and Location /jobs/1, and /jobs/1 with {"id":1,"state":"done"} (follow's HTTPS test).
# Exit codes: 0 done, 1 the server did not start (its log is printed), 2 usage,
# 3 the server's package is missing and cannot be installed here (tests skip on 3).
# PostgreSQL refuses to run as root: as root, it runs as the unprivileged `postgres` user that
# Debian's package creates (or `perflab-pg`, created here, when that user is missing).
set -euo pipefail
cd "$(dirname "$0")/.."
root_dir=$(pwd)
services_dir="$root_dir/build/services"

die() { echo "services.sh: $2" >&2; exit "$1"; }
usage() { die 2 "$1 (usage: services.sh start postgres|redis|h2o-tls|nginx-tls [--name NAME] [--access-log] | url NAME | stop NAME|--all [--keep] | status [NAME])"; }

# Installs a missing Debian package when we may (root, or sudo without a password); exit 3 otherwise.
ensure_package() {
  local package=$1 probe=$2
  [ -x "$probe" ] || command -v "$probe" >/dev/null 2>&1 && return 0
  local sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then
    sudo -n true 2>/dev/null || die 3 "$package is not installed and this user cannot install it"
    sudo_cmd=(sudo -n)
  fi
  echo "services.sh: installing $package" >&2
  { "${sudo_cmd[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" \
      apt-get install -y -qq --no-install-recommends "$package"; } >/dev/null 2>&1 \
    || die 3 "$package could not be installed (apt-get failed)"
}

pg_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$dir" ] && [ -x "$dir/pg_ctl" ] || return 1
  echo "$dir"
}

# A port nothing listens on. Another process may take it before the server binds; start retries.
free_port() {
  local port
  for _ in $(seq 1 100); do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return 0; fi
  done
  die 1 "no free port found on 127.0.0.1"
}

# The unprivileged user PostgreSQL runs as ("" when we are not root: then it runs as us).
pg_user() {
  [ "$(id -u)" -ne 0 ] && { echo ""; return; }
  if id postgres >/dev/null 2>&1; then echo postgres; return; fi
  id perflab-pg >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin perflab-pg
  echo perflab-pg
}

as_pg() {
  local user=$1; shift
  # From /: the checkout may be a directory the user cannot enter.
  if [ -n "$user" ]; then (cd / && runuser -u "$user" -- "$@"); else "$@"; fi
}

# The instance's files live in build/services/NAME. When the PostgreSQL user cannot reach the
# checkout (a clone under /root, mode 700), its data directory and log go to a private directory
# in /tmp owned by that user, and build/services/NAME/{data,server.log} link there.
pg_home() {
  local name=$1 user=$2 dir="$services_dir/$1"
  if [ -z "$user" ] || (cd / && runuser -u "$user" -- test -w "$dir") 2>/dev/null; then
    echo "$dir"; return
  fi
  local outside
  outside=$(mktemp -d /tmp/perflab-service-"$name".XXXXXX)
  chown "$user" "$outside"
  ln -sfn "$outside/data" "$dir/data"
  ln -sfn "$outside/server.log" "$dir/server.log"
  echo "$outside"
}

running() {   # NAME: true when its recorded pid is alive
  local pidfile="$services_dir/$1/pid"
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

start_postgres() {
  local name=$1 dir="$services_dir/$1" bin user home data port log
  bin=$(pg_bin) || { ensure_package postgresql /nonexistent-probe; bin=$(pg_bin) || die 3 "postgresql is not installed"; }
  user=$(pg_user)
  mkdir -p "$dir"
  [ -n "$user" ] && chown "$user" "$dir"
  home=$(pg_home "$name" "$user")
  data="$home/data"
  log="$home/server.log"
  : > "$log"; [ -n "$user" ] && chown "$user" "$log"
  if [ ! -f "$data/PG_VERSION" ]; then
    as_pg "$user" "$bin/initdb" -D "$data" -U perflab --auth=trust --encoding=UTF8 --no-sync >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; die 1 "initdb failed (log: $dir/initdb.log)"; }
  fi
  for attempt in 1 2 3; do
    port=$(free_port)
    # Loopback TCP only; the Unix socket goes in the data directory, never /var/run/postgresql.
    if as_pg "$user" "$bin/pg_ctl" -D "$data" -l "$log" -w -t 30 \
        -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories='$data' -c fsync=off -c max_connections=200" \
        start >/dev/null 2>&1; then
      head -1 "$data/postmaster.pid" > "$dir/pid"
      echo "$port" > "$dir/port"
      echo postgres > "$dir/service"
      as_pg "$user" "$bin/psql" -h 127.0.0.1 -p "$port" -U perflab -d postgres -qtAc \
          "SELECT 1 FROM pg_database WHERE datname='perflab'" | grep -q 1 \
        || as_pg "$user" "$bin/createdb" -h 127.0.0.1 -p "$port" -U perflab perflab
      echo "postgres://perflab@127.0.0.1:$port/perflab" > "$dir/url"
      return 0
    fi
    echo "services.sh: postgres did not start on port $port (attempt $attempt)" >&2
  done
  cat "$log" >&2
  die 1 "postgres did not start (log: $log)"
}

start_redis() {
  local name=$1 dir="$services_dir/$1" port
  ensure_package redis-server redis-server
  mkdir -p "$dir"
  for attempt in 1 2 3; do
    port=$(free_port)
    # No persistence: a throwaway cache. Daemonized; the pid file says where it went.
    rm -f "$dir/redis.pid"
    redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --dir "$dir" \
      --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/server.log" >/dev/null 2>&1 || true
    for _ in $(seq 1 50); do
      if [ -s "$dir/redis.pid" ] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        cp "$dir/redis.pid" "$dir/pid"
        echo "$port" > "$dir/port"
        echo redis > "$dir/service"
        echo "redis://127.0.0.1:$port" > "$dir/url"
        return 0
      fi
      sleep 0.1
    done
    [ -s "$dir/redis.pid" ] && kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
    echo "services.sh: redis did not start on port $port (attempt $attempt)" >&2
  done
  cat "$dir/server.log" >&2 2>/dev/null || true
  die 1 "redis did not start (log: $dir/server.log)"
}

# A self-signed certificate for 127.0.0.1 and localhost, valid two days: DIR/cert.pem, DIR/key.pem.
make_cert() {
  local dir=$1
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" -keyout "$dir/key.pem" -out "$dir/cert.pem" \
    >"$dir/openssl.log" 2>&1 || { cat "$dir/openssl.log" >&2; die 1 "openssl could not make a certificate"; }
}

# Waits until PORT accepts and the pid file PIDFILE is written; true when both happened.
wait_listening() {
  local port=$1 pidfile=$2
  for _ in $(seq 1 100); do
    if [ -s "$pidfile" ] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

start_h2o_tls() {
  local name=$1 dir="$services_dir/$1" port
  ensure_package h2o h2o
  mkdir -p "$dir/www"
  make_cert "$dir"
  printf 'Hello, World!' > "$dir/www/hello"
  for attempt in 1 2 3; do
    port=$(free_port)
    rm -f "$dir/h2o.pid"
    # user: the one starting it. As root h2o would switch to nobody, who may not read the checkout.
    cat > "$dir/h2o.conf" <<CONF
user: $(id -un)
pid-file: $dir/h2o.pid
error-log: $dir/server.log
num-threads: 1
$([ "$access_log" = 1 ] && printf 'access-log:\n  path: %s\n  format: "%%{ssl.session-reused}x %%H %%s"\n' "$dir/access.log" || true)
listen:
  host: 127.0.0.1
  port: $port
  ssl:
    certificate-file: $dir/cert.pem
    key-file: $dir/key.pem
hosts:
  default:
    paths:
      /:
        file.dir: $dir/www
        file.mime.setdefaulttype: text/plain
CONF
    h2o -m daemon -c "$dir/h2o.conf" >"$dir/start.log" 2>&1 || true
    if wait_listening "$port" "$dir/h2o.pid"; then
      cp "$dir/h2o.pid" "$dir/pid"
      echo "$port" > "$dir/port"
      echo h2o-tls > "$dir/service"
      echo "https://127.0.0.1:$port" > "$dir/url"
      return 0
    fi
    [ -s "$dir/h2o.pid" ] && kill "$(cat "$dir/h2o.pid")" 2>/dev/null || true
    echo "services.sh: h2o did not start on port $port (attempt $attempt)" >&2
  done
  cat "$dir/start.log" "$dir/server.log" >&2 2>/dev/null || true
  die 1 "h2o did not start (log: $dir/server.log)"
}

start_nginx_tls() {
  local name=$1 dir="$services_dir/$1" port
  ensure_package nginx-light nginx
  mkdir -p "$dir/tmp"
  make_cert "$dir"
  for attempt in 1 2 3; do
    port=$(free_port)
    rm -f "$dir/nginx.pid"
    cat > "$dir/nginx.conf" <<CONF
daemon on;
pid $dir/nginx.pid;
error_log $dir/server.log;
worker_processes 1;
events { worker_connections 1024; }
http {
  $([ "$access_log" = 1 ] && echo "log_format perflab '\$ssl_session_reused \$server_protocol \$status'; access_log $dir/access.log perflab;" || echo "access_log off;")
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  server {
    listen 127.0.0.1:$port ssl http2;
    ssl_certificate $dir/cert.pem;
    ssl_certificate_key $dir/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;      # nginx 1.22's default stops at TLS 1.2
    ssl_session_cache shared:perflab:1m;  # sessions resumable (by id and by ticket), as production servers set it
    keepalive_requests 1000000;         # 1.22 closes a connection (HTTP/2: GOAWAY) after 1,000 requests by default
    location = /hello { default_type text/plain; return 200 "Hello, World!"; }
    # An asynchronous API's two answers, for the loadgen's [load] follow over HTTPS and HTTP/2.
    location = /jobs { default_type application/json; add_header Location /jobs/1 always; return 202 '{"id":1,"state":"queued"}'; }
    location = /jobs/1 { default_type application/json; return 200 '{"id":1,"state":"done"}'; }
  }
}
CONF
    nginx -p "$dir" -c "$dir/nginx.conf" >"$dir/start.log" 2>&1 || true
    if wait_listening "$port" "$dir/nginx.pid"; then
      cp "$dir/nginx.pid" "$dir/pid"
      echo "$port" > "$dir/port"
      echo nginx-tls > "$dir/service"
      echo "https://127.0.0.1:$port" > "$dir/url"
      return 0
    fi
    [ -s "$dir/nginx.pid" ] && kill "$(cat "$dir/nginx.pid")" 2>/dev/null || true
    echo "services.sh: nginx did not start on port $port (attempt $attempt)" >&2
  done
  cat "$dir/start.log" "$dir/server.log" >&2 2>/dev/null || true
  die 1 "nginx did not start (log: $dir/server.log)"
}

stop_instance() {
  local name=$1 keep=$2 dir="$services_dir/$1"
  [ -d "$dir" ] || die 2 "no instance named '$name' under build/services/"
  local service pid
  service=$(cat "$dir/service" 2>/dev/null || echo unknown)
  if running "$name"; then
    pid=$(cat "$dir/pid")
    if [ "$service" = postgres ]; then
      local bin; bin=$(pg_bin)
      as_pg "$(pg_user)" "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
    else
      kill "$pid" 2>/dev/null || true
    fi
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && { kill -9 "$pid" 2>/dev/null || true; }
  fi
  if [ "$keep" -eq 0 ]; then
    [ -L "$dir/data" ] && rm -rf "$(dirname "$(readlink "$dir/data")")"
    rm -rf "$dir"
  else
    rm -f "$dir/pid"
  fi
}

status_line() {
  local name=$1 dir="$services_dir/$1" state=stopped
  running "$name" && state="running pid $(cat "$dir/pid")"
  printf '%-24s %-9s %-22s %s\n' "$name" "$(cat "$dir/service" 2>/dev/null || echo '?')" "$state" "$(cat "$dir/url" 2>/dev/null || true)"
}

[ $# -ge 1 ] || usage "no command"
command=$1; shift
case "$command" in
  start)
    [ $# -ge 1 ] || usage "start needs a service"
    service=$1; shift
    name=$service
    access_log=0
    while [ $# -gt 0 ]; do
      case "$1" in
        --name) [ $# -ge 2 ] || usage "--name needs a value"; name=$2; shift ;;
        --access-log) access_log=1 ;;
        *) usage "unknown option '$1'" ;;
      esac
      shift
    done
    [[ "$name" =~ ^[A-Za-z0-9._-]+$ ]] || usage "--name '$name' must be letters, digits, '.', '_' or '-'"
    case "$service" in postgres|redis|h2o-tls|nginx-tls) ;;
      *) usage "unknown service '$service' (expected postgres, redis, h2o-tls or nginx-tls)" ;;
    esac
    case "$service" in postgres|redis) [ "$access_log" = 0 ] || usage "--access-log applies to h2o-tls and nginx-tls" ;; esac
    if running "$name"; then
      [ "$(cat "$services_dir/$name/service")" = "$service" ] || die 2 "'$name' is already a running $(cat "$services_dir/$name/service")"
      cat "$services_dir/$name/url"; exit 0
    fi
    [ -d "$services_dir/$name" ] && stop_instance "$name" 0   # leftovers of a dead instance
    "start_${service//-/_}" "$name"
    cat "$services_dir/$name/url"
    ;;
  url)
    [ $# -eq 1 ] || usage "url needs one NAME"
    running "$1" || die 1 "'$1' is not running"
    cat "$services_dir/$1/url"
    ;;
  stop)
    [ $# -ge 1 ] || usage "stop needs a NAME or --all"
    target=$1; shift; keep=0
    [ "${1:-}" = --keep ] && keep=1
    if [ "$target" = --all ]; then
      for d in "$services_dir"/*/; do [ -d "$d" ] && stop_instance "$(basename "$d")" "$keep"; done
    else
      stop_instance "$target" "$keep"
    fi
    ;;
  status)
    if [ $# -ge 1 ]; then [ -d "$services_dir/$1" ] || die 1 "no instance named '$1'"; status_line "$1"; exit 0; fi
    found=0
    for d in "$services_dir"/*/; do [ -d "$d" ] && { status_line "$(basename "$d")"; found=1; }; done
    [ "$found" -eq 1 ] || echo "no services under build/services/"
    ;;
  *) usage "unknown command '$command'" ;;
esac
