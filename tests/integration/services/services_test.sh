#!/usr/bin/env bash
# services_test.sh SERVICE SOURCE_DIR: starts SERVICE through scripts/services.sh under a name of
# its own, checks that it answers its protocol on the printed URL, that a second start prints the
# same URL, that status shows it, and that stop leaves no process and no files; then the usage
# errors (exit 2). Exit 77 (skipped) when the server's package cannot be installed here.
set -uo pipefail
service=$1
cd "$2"
name="test-$service-$$"
fail() { echo "FAIL: $*"; scripts/services.sh stop "$name" >/dev/null 2>&1; exit 1; }

url=$(scripts/services.sh start "$service" --name "$name"); rc=$?
[ $rc -eq 3 ] && { echo "SKIPPED: $service cannot be installed on this machine"; exit 77; }
[ $rc -eq 0 ] || fail "start exited $rc"
echo "started $url"
port=${url##*:}; port=${port%%/*}
[[ "$port" =~ ^[0-9]+$ ]] || fail "no port in '$url'"
pid=$(cat "build/services/$name/pid")

case "$service" in
  postgres)
    [[ "$url" == postgres://perflab@127.0.0.1:*/perflab ]] || fail "unexpected URL $url"
    # A query through the URL: the database exists and takes a table.
    out=$(psql "$url" -qtAc "CREATE TABLE t(x int); INSERT INTO t VALUES (41),(1); SELECT sum(x) FROM t") \
      || fail "psql could not query $url"
    [ "$out" = 42 ] || fail "query answered '$out', expected 42"
    # It runs as an unprivileged user, never root.
    [ "$(ps -o user= -p "$pid" | tr -d ' ')" != root ] || fail "postgres runs as root"
    ;;
  redis)
    [[ "$url" == redis://127.0.0.1:* ]] || fail "unexpected URL $url"
    exec 3<>"/dev/tcp/127.0.0.1/$port" || fail "cannot connect to $url"
    printf 'PING\r\n' >&3
    read -r -t 5 reply <&3 || fail "no reply to PING"
    exec 3>&-
    [ "${reply%$'\r'}" = "+PONG" ] || fail "PING answered '$reply'"
    ;;
  h2o-tls|nginx-tls)
    [[ "$url" == https://127.0.0.1:* ]] || fail "unexpected URL $url"
    cert="build/services/$name/cert.pem"
    [ -s "$cert" ] || fail "no certificate at $cert"
    # HTTP/1.1 and HTTP/2 (ALPN) over TLS, verified against the throwaway certificate.
    for version in 1.1 2; do
      out=$(curl -sS --max-time 5 --cacert "$cert" "--http$version" -w ' %{http_version} %{http_code}' "$url/hello") \
        || fail "curl --http$version could not fetch $url/hello"
      [ "$out" = "Hello, World! $version 200" ] || fail "HTTP/$version: '$out', expected 'Hello, World! $version 200'"
    done
    # Without it, the self-signed certificate is refused (curl exit 60): TLS is really verified.
    curl -s --max-time 5 -o /dev/null "$url/hello"; rc=$?
    [ $rc -eq 60 ] || fail "an unverified certificate was not refused (curl exit $rc, expected 60)"
    ;;
esac

again=$(scripts/services.sh start "$service" --name "$name") || fail "second start failed"
[ "$again" = "$url" ] || fail "second start printed '$again', expected '$url'"
scripts/services.sh status "$name" | grep -q "running pid $pid" || fail "status does not show pid $pid"
[ "$(scripts/services.sh url "$name")" = "$url" ] || fail "url NAME differs"

scripts/services.sh stop "$name" || fail "stop failed"
kill -0 "$pid" 2>/dev/null && fail "pid $pid still alive after stop"
[ -e "build/services/$name" ] && fail "build/services/$name left behind"
(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && fail "port $port still answers"

# Usage errors: exit 2 with a message naming what was wrong.
msg=$(scripts/services.sh start mysql 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q "unknown service 'mysql'" <<<"$msg" || fail "unknown service: rc $rc, '$msg'"
msg=$(scripts/services.sh stop "$name" 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q "no instance named" <<<"$msg" || fail "stop of a stopped instance: rc $rc, '$msg'"
msg=$(scripts/services.sh start redis --name 'a b' 2>&1); rc=$?
[ $rc -eq 2 ] || fail "bad --name: rc $rc"
echo "PASS: $service started at $url, answered, stopped cleanly"
