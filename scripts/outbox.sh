#!/usr/bin/env bash
# Runs scenarios/outbox.toml (docs/experiments/outbox.md) against a throwaway PostgreSQL and
# Redis started here with scripts/services.sh and stopped at the end, whatever happens.
# Usage: scripts/outbox.sh [BUILD_DIR] [loadgen run options...]   (BUILD_DIR default build/release)
# Exit code: loadgen's (docs/scenarios.md, Exit codes); 3 when PostgreSQL or Redis cannot be
# installed here (scripts/services.sh's code).
set -euo pipefail
cd "$(dirname "$0")/.."
build=build/release
if [[ $# -gt 0 && $1 != -* ]]; then build=$1; shift; fi
loadgen=$build/loadgen/loadgen
[[ -x $loadgen ]] || { echo "outbox.sh: missing $loadgen (build loadgen and lab-target)" >&2; exit 2; }
pg_name=outbox-$$ redis_name=outbox-redis-$$
cleanup() {
  scripts/services.sh stop "$pg_name" >/dev/null 2>&1 || true
  scripts/services.sh stop "$redis_name" >/dev/null 2>&1 || true
}
trap cleanup EXIT
pg=$(scripts/services.sh start postgres --name "$pg_name")
redis=$(scripts/services.sh start redis --name "$redis_name")
"$loadgen" run scenarios/outbox.toml --set "target.outbox-db=$pg" --set "target.outbox-redis=$redis" "$@"
