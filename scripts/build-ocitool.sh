#!/usr/bin/env bash
# Build tools/ocitool into a cache directory keyed by its sources and print the
# binary's path (the only stdout line):
#   ${ASMWASM_CACHE:-$HOME/.cache/asm-wasm}/ocitool-<hash>/bin/ocitool
# The hash covers go.mod, go.sum, the non-test .go files and the Go version, so
# an unchanged tree reuses the binary and a changed one gets a fresh directory.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
src=$repo/tools/ocitool
cache=${ASMWASM_CACHE:-$HOME/.cache/asm-wasm}

command -v go >/dev/null || { echo "build-ocitool: go is not on PATH" >&2; exit 1; }

hash=$(
	cd "$src"
	{
		go env GOVERSION GOOS GOARCH
		find . -type f \( -name go.mod -o -name go.sum -o \( -name '*.go' ! -name '*_test.go' \) \) \
			-print0 | LC_ALL=C sort -z | xargs -0 sha256sum
	} | sha256sum | cut -c1-16
)
dir=$cache/ocitool-$hash
bin=$dir/bin/ocitool

if [[ ! -x $bin ]]; then
	mkdir -p "$dir/bin"
	tmp=$(mktemp "$dir/bin/.ocitool.XXXXXX")
	trap 'rm -f "$tmp"' EXIT
	start=$(date +%s)
	(cd "$src" && CGO_ENABLED=0 go build -mod=readonly -trimpath -buildvcs=false -o "$tmp" .)
	chmod 755 "$tmp"
	mv -f "$tmp" "$bin"
	echo "build-ocitool: built $bin in $(($(date +%s) - start))s" >&2
fi
echo "$bin"
