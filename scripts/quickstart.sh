#!/usr/bin/env bash
# From a fresh machine to the first comparison: installs what is missing and builds the release
# preset (scripts/setup.sh), then runs scenarios/quickstart.toml, which prints the comparison
# table of the four concurrency models and the paths of report.md / report.html.
#   scripts/quickstart.sh [--output DIR] [--set key=value]...   (extra arguments go to `loadgen run`)
# Exit code: 0 when the comparison ran and was written, whatever it found about the servers (the
# quickstart overloads the thread pool on purpose, so its row is not "ok": `loadgen run` exits 7,
# and 5 when this machine was too busy to keep the schedule; the line after the table says so).
# 1, 2 or 6 when the run itself failed, was misconfigured or interrupted (see README, Exit codes).
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
set +e
"$loadgen" run scenarios/quickstart.toml --target-bin "$target" "$@"
rc=$?
set -e
case "$rc" in
  0) echo "quickstart: loadgen run exited 0: every row ok" ;;
  3|5|7)
    echo "quickstart: loadgen run exited $rc: a verdict on the measured rows, not a failure of the run"
    echo "  (7: a target failed requests or starved clients; 5: the loadgen could not keep its schedule, on a busy"
    echo "   machine or with its connections all held by a server that stopped answering; 3: a threshold failed."
    echo "   See the status column and README.md, Exit codes.)"
    rc=0 ;;
  *) echo "quickstart: loadgen run failed with exit code $rc (see README.md, Exit codes)" >&2 ;;
esac
exit "$rc"
