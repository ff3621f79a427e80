#!/usr/bin/env bash
# Fetches the Datastar browser client into static/dist/datastar.js.
#
# npm only carries older Datastar clients that speak a different protocol than datastar-go v1.2.2,
# so the bundle comes from the upstream monorepo through the Go module proxy (see STACK.md). The
# module proxy plus the Go checksum database authenticate the download; the pinned SHA-256 below
# additionally guards against a changed file inside the module.
set -euo pipefail

version=v1.0.0
sha256=e7d6ad0e83980b37706f4494a36db3c58b5dc6cd5a9e5bd5166dbffa6b56a06a
out=${1:-static/dist/datastar.js}

# Run outside any module so the download never touches this project's go.mod / go.sum.
json=$(cd / && GOFLAGS= go mod download -json "github.com/starfederation/datastar@${version}")
dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"$json")
src="$dir/bundles/datastar.js"
if [[ -z "$dir" || ! -f "$src" ]]; then
	echo "datastar.sh: github.com/starfederation/datastar@${version} has no bundles/datastar.js" >&2
	echo "$json" >&2
	exit 1
fi

first=$(head -n 1 "$src")
if [[ "$first" != "// Datastar ${version}" ]]; then
	echo "datastar.sh: $src starts with '$first', want '// Datastar ${version}'" >&2
	exit 1
fi
got=$(sha256sum "$src" | cut -d' ' -f1)
if [[ "$got" != "$sha256" ]]; then
	echo "datastar.sh: $src has sha256 $got, want $sha256" >&2
	exit 1
fi

mkdir -p "$(dirname "$out")"
# Write then rename: an interrupted copy must not leave a file make would consider up to date.
tmp="$(dirname "$out")/.datastar.js.tmp"
cp "$src" "$tmp"
chmod 0644 "$tmp"
mv -f "$tmp" "$out"
echo "datastar.sh: $out = Datastar ${version}"
