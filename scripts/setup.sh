#!/usr/bin/env bash
# Installs what perflab needs from Debian 12 (only what is missing, one apt-get update when it
# installs anything), then configures and builds the release preset.
#   scripts/setup.sh [--no-build] [--no-interop] [--preset NAME]
set -euo pipefail
cd "$(dirname "$0")/.."

preset=release
build=1
interop=1
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0 ;;
    --no-interop) interop=0 ;;   # skip the npm peer (only tests/interop needs it)
    --preset) preset="$2"; shift ;;
    *) echo "setup.sh: unknown option '$1' (accepted: --no-build, --no-interop, --preset NAME)" >&2; exit 2 ;;
  esac
  shift
done

# Build and test dependencies. wrk and nginx-light are peers for the scripts/bench-*.sh comparisons
# (which also use jq and /usr/bin/time); strace counts lab-target's system calls per request in
# the targets tests (TargetSyscalls).
packages=(
  build-essential cmake git pkg-config
  libboost-dev libboost-iostreams-dev libcurl4-openssl-dev zlib1g-dev libbrotli-dev libcli11-dev libtomlplusplus-dev
  nlohmann-json3-dev libexpected-dev libfmt-dev libbenchmark-dev libgtest-dev
  gnuplot-nox libgnuplot-iostream-dev
  python3 python3-jsonschema
  wrk nginx-light jq time
  strace
  # Real backing servers and their client libraries: scripts/services.sh starts throwaway
  # PostgreSQL and Redis instances for the pool and cache experiments and their tests.
  # libhiredis-dev: lab-target's Redis client (--cache redis://, perflab::cache, via pkg-config).
  postgresql libpq-dev redis-server libhiredis-dev
  libssl-dev    # libcrypto's SHA-1 and base64 for the WebSocket handshake's Sec-WebSocket-Accept (perflab::push)
  libzstd-dev   # zstd content coding in the targets (perflab::encode) and --verify in the loadgen
  libboost-context-dev  # lab-target --model fiber: stackful fibers with guard-paged stacks (Boost.Context)
  liburing-dev  # lab-target --model io-uring (optional at build time: without it the model says it is unavailable)
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler  # lab-target --grpc-port: Orders.Get, messages generated at build time (optional: without them --grpc-port says it is unavailable)
  # TLS/HTTP/2 servers to measure (scripts/services.sh start h2o-tls|nginx-tls; nginx-light is above).
  h2o openssl
  nghttp2-client  # h2load: the HTTP/2 peer scripts/bench-loadgen.sh measures the curl engine against
  python3-h2      # an HTTP/2 server that refuses streams, for the curl engine's test that they are counted
  # Distributed load (`mpirun -np N loadgen attack`, docs/distributed.md): Open MPI's launcher and
  # its C library; without them the loadgen builds as a single process (PERFLAB_MPI=OFF).
  openmpi-bin libopenmpi-dev
)

# node + npm fetch hdr-histogram-js, HdrHistogram's JavaScript port: the interop test checks our
# logs against a decoder we did not write. Any node works; Debian's when there is none.
command -v node >/dev/null && command -v npm >/dev/null || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: all packages present"
fi

# Interop peer (build/interop-node, git-ignored). Not fatal: without it that one test reports skipped.
if [ "$interop" -eq 1 ]; then
  scripts/setup-interop.sh >/dev/null || echo "setup: hdr-histogram-js not installed; the interop test will be skipped"
fi

# The build's output goes to build/<preset>.log; it is shown when the build fails.
if [ "$build" -eq 1 ]; then
  mkdir -p build
  log="build/$preset.log"
  echo "setup: building the $preset preset (log: $log)"
  start=$(date +%s)
  if ! { cmake --preset "$preset" && cmake --build --preset "$preset" -j "$(nproc)"; } >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "setup: the build failed; the whole log is in $log" >&2
    exit 1
  fi
  warnings=$(grep -c 'warning:' "$log" || true)
  echo "setup: built build/$preset in $(( $(date +%s) - start )) s, $warnings compiler warnings"
fi
