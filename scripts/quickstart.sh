#!/usr/bin/env bash
# From a fresh machine to the first comparison: installs what is missing and builds the release
# preset (scripts/setup.sh), then runs scenarios/quickstart.toml, which prints the comparison
# table of the four concurrency models and the paths of report.md / report.html.
#   scripts/quickstart.sh [--output DIR] [--set key=value]...   (extra arguments go to `loadgen run`)
# Exit code: the one of `loadgen run` (0 ok, 5 loadgen saturated, ...; see docs/scenarios.md).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh --preset release

loadgen=build/release/loadgen/loadgen
target=build/release/targets/lab-target
for bin in "$loadgen" "$target"; do
  if [ ! -x "$bin" ]; then
    echo "quickstart: $bin was not built (see the build output above)" >&2
    exit 1
  fi
done

echo
echo "quickstart: $loadgen run scenarios/quickstart.toml $*"
exec "$loadgen" run scenarios/quickstart.toml --target-bin "$target" "$@"
