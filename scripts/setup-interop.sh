#!/usr/bin/env bash
# Installs hdr-histogram-js (HdrHistogram's JavaScript port, a decoder/encoder we did not write)
# for the tests/interop ctest test. Idempotent: does nothing when the pinned version is present.
#   scripts/setup-interop.sh [PREFIX]     (default PREFIX: build/interop-node)
# Needs node and npm (Debian: apt-get install nodejs npm) and the npm registry. node_modules stays
# under build/, which git ignores.
set -euo pipefail
cd "$(dirname "$0")/.."

version=3.0.1
prefix="${1:-build/interop-node}"
pkg="$prefix/node_modules/hdr-histogram-js/package.json"

if [ -f "$pkg" ] && grep -q "\"version\": \"$version\"" "$pkg"; then
  echo "setup-interop: hdr-histogram-js $version already in $prefix"
  exit 0
fi
for tool in node npm; do
  if ! command -v "$tool" >/dev/null; then
    echo "setup-interop: '$tool' not found; install it (Debian: apt-get install -y nodejs npm)" >&2
    exit 1
  fi
done
mkdir -p "$prefix"
# --no-save with a throwaway package.json keeps the install local to PREFIX.
[ -f "$prefix/package.json" ] || echo '{"name":"perflab-interop","private":true}' >"$prefix/package.json"
npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error "hdr-histogram-js@$version"
echo "setup-interop: installed hdr-histogram-js $version into $prefix"
