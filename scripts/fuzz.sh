#!/usr/bin/env bash
# Runs every Go fuzz target of the module for a while each: `go test -fuzz` accepts one target in
# one package per run, so this lists them and runs them one after another.
#   scripts/fuzz.sh [FUZZTIME]   (default 30s per target)
set -euo pipefail
SCRIPT_NAME=fuzz.sh
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

fuzztime=${1:-30s}
go=${GO:-go}
ran=0
for pkg in $($go list ./...); do
	# `go test -list` prints the matching names, then an "ok <pkg>" line.
	for name in $($go test -list '^Fuzz' "$pkg" | grep -E '^Fuzz' || true); do
		log "$pkg $name for $fuzztime"
		$go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg"
		ran=$((ran + 1))
	done
done
log "$ran fuzz targets run"
