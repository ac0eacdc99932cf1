#!/usr/bin/env bash
# Did this change make the server slower? Builds BASE_REF's lab-target in a git worktree under
# build/ci-regression/, builds the working tree's lab-target and loadgen, and runs
#   loadgen ab SCENARIO --baseline-bin <BASE_REF's> --candidate-bin <the working tree's>
# (interleaved A B B A ..., repeats, Mann-Whitney U and a bootstrap interval; docs/ci.md). The same
# loadgen, the working tree's, measures both sides. Prints the verdict table and writes, for the
# pipeline's page, build/ci-regression/junit.xml and build/ci-regression/summary.md.
#
#   scripts/ci-regression.sh BASE_REF [SCENARIO] [--repeats N] [--tolerance 5%] [-- loadgen ab options...]
#   e.g. scripts/ci-regression.sh origin/main
#        scripts/ci-regression.sh HEAD~1 scenarios/ci-regression.toml --repeats 8
#
# Exit codes are loadgen ab's: 0 no regression, 4 regression, 3 a candidate threshold failed,
# 5/6/7 the comparison is not trusted (README.md, Exit codes); 2 when BASE_REF is not a commit or
# its lab-target does not build (before anything runs); 1 when the working tree does not build.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

usage() {
  echo "usage: scripts/ci-regression.sh BASE_REF [SCENARIO] [--repeats N] [--tolerance T] [-- loadgen ab options...]" >&2
  exit 2
}
[ $# -ge 1 ] || usage
case "$1" in -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; -*) usage ;; esac
base_ref=$1
shift
scenario=scenarios/ci-regression.toml
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then scenario=$1; shift; fi
ab_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --repeats|--tolerance) [ $# -ge 2 ] || usage; ab_args+=("$1" "$2"); shift 2 ;;
    --) shift; ab_args+=("$@"); break ;;
    *) echo "ci-regression: unknown option '$1'" >&2; usage ;;
  esac
done

out=build/ci-regression
mkdir -p "$out"
say() { echo "ci-regression: $*"; }
fail() { echo "ci-regression: $2" >&2; exit "$1"; }

# 1. The base ref must name a commit, and the scenario must exist: checked before any build.
git rev-parse --git-dir >/dev/null 2>&1 || fail 2 "$root is not a git checkout: BASE_REF needs the repository's history"
base_sha=$(git rev-parse --verify --quiet "${base_ref}^{commit}") ||
  fail 2 "BASE_REF '$base_ref' is not a commit here (a shallow clone? fetch it first, e.g. git fetch --depth 50 origin main)"
[ -f "$scenario" ] || fail 2 "scenario '$scenario' not found"
short=${base_sha:0:12}
say "baseline: $base_ref ($short), candidate: the working tree ($(git rev-parse --short=12 HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo ', with uncommitted changes'))"

# 2. Packages (apt-get when something is missing), without the full build.
scripts/setup.sh --no-build --no-interop >/dev/null ||
  fail 1 "installing the build dependencies failed (scripts/setup.sh --no-build --no-interop)"

# 3. The base's lab-target, in its own worktree (kept between runs: the same ref builds once).
base_tree=$out/base-$short
git worktree prune
if [ ! -e "$base_tree/.git" ]; then
  rm -rf "$base_tree"
  git worktree add --detach --force "$base_tree" "$base_sha" >"$out/base-$short.log" 2>&1 ||
    fail 2 "cannot check out $base_ref into $base_tree (log: $out/base-$short.log)"
fi
say "building the baseline's lab-target in $base_tree (log: $out/base-$short.log)"
start=$(date +%s)
if ! { cmake -S "$base_tree" -B "$base_tree/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
         -DPERFLAB_BUILD_TESTS=OFF -DPERFLAB_BUILD_BENCH=OFF &&
       cmake --build "$base_tree/build" -j "$(nproc)" --target lab-target; } >>"$out/base-$short.log" 2>&1; then
  tail -n 20 "$out/base-$short.log" >&2
  fail 2 "$base_ref ($short) does not build lab-target; nothing was run (log: $out/base-$short.log)"
fi
base_bin=$base_tree/build/targets/lab-target
[ -x "$base_bin" ] || fail 2 "$base_ref ($short) built no targets/lab-target; nothing was run"
say "baseline built in $(( $(date +%s) - start )) s"

# 4. The working tree's lab-target and loadgen (the release preset's build folder, shared with
#    scripts/test.sh and quickstart.sh).
say "building the working tree's lab-target and loadgen (log: build/release.log)"
start=$(date +%s)
if ! { cmake --preset release && cmake --build --preset release -j "$(nproc)" --target lab-target loadgen; } \
       >build/release.log 2>&1; then
  tail -n 40 build/release.log >&2
  fail 1 "the working tree does not build (log: build/release.log)"
fi
say "candidate built in $(( $(date +%s) - start )) s"

# 5. The A/B run. Its exit code is the script's.
build/release/loadgen/loadgen ab "$scenario" \
  --baseline-bin "$base_bin" --candidate-bin build/release/targets/lab-target \
  --junit "$out/junit.xml" --summary-md "$out/summary.md" "${ab_args[@]}"
rc=$?
say "exit $rc; JUnit: $out/junit.xml, summary: $out/summary.md"
exit $rc
