#!/bin/sh
# Builds the plugins of this Go module, each a package main in its own folder:
#   plugin/build.sh                 both: ./plugin.wasm (header-authorization)
#                                   and ./responseheader/plugin.wasm
#   plugin/build.sh DIR...          only these folders, relative to plugin/
#                                   (e.g. "." for header-authorization alone)
#   WASM_NAMES=1 plugin/build.sh    the same modules with a wasm name section
#                                   (for debugging a trap, see 3.)
# Each is built with standard Go for wasip1 into DIR/plugin.wasm, then
# trimmed and optimised with Binaryen:
#   1. go build: -trimpath drops local paths and -buildvcs=false the VCS
#      stamp (inside a git checkout Go would otherwise embed the commit, its
#      time and a "modified" flag, unless GOFLAGS in the environment or in
#      `go env` says otherwise), so the same source and Go give the same bytes;
#   2. wasm-metadce keeps only the exports in DIR/exports.txt (see there why)
#      and drops the code only they reached;
#   3. wasm-opt -Oz shrinks the code, which V8 then compiles faster on every
#      rollout. The wasm name section (54 KB) is left out: a Go panic prints
#      its own trace (function, file, line) from Go's tables whatever the
#      module carries, and Envoy prints its "in-VM backtrace" only for a
#      module with names. WASM_NAMES=1 keeps them (wasm-opt -g); the module
#      is then byte for byte the same plus its name section, so the same
#      source gives the same functions at the same offsets.
# Binaryen comes from Debian's binaryen package (108 on Debian 12); it is
# installed here when missing. Another Binaryen version works but may give
# other bytes.
set -eu
cd "$(dirname "$0")"

die() {
	echo "plugin/build.sh: $*" >&2
	exit 1
}

if ! command -v wasm-opt >/dev/null 2>&1 || ! command -v wasm-metadce >/dev/null 2>&1; then
	echo "plugin/build.sh: installing Binaryen (Debian package binaryen)" >&2
	command -v apt-get >/dev/null 2>&1 ||
		die "Binaryen's wasm-opt and wasm-metadce are needed and there is no apt-get to install them: install binaryen"
	sudo=""
	if [ "$(id -u)" != 0 ]; then
		command -v sudo >/dev/null 2>&1 || die "installing binaryen needs root or sudo"
		sudo="sudo"
	fi
	$sudo apt-get install -y -q binaryen >&2 ||
		{ $sudo apt-get update -q >&2 && $sudo apt-get install -y -q binaryen >&2; } ||
		die "apt-get could not install binaryen"
	if ! command -v wasm-opt >/dev/null 2>&1 || ! command -v wasm-metadce >/dev/null 2>&1; then
		die "binaryen is installed but wasm-opt or wasm-metadce is not on PATH"
	fi
fi
case "$(wasm-opt --version)" in
*"version 108"*) ;;
*) echo "plugin/build.sh: note: $(wasm-opt --version), not 108 (Debian 12): the bytes may differ from other builds" >&2 ;;
esac

# With no folder given: every plugin of the module.
[ $# -gt 0 ] || set -- . responseheader

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The Wasm features Go's wasip1 port emits (sign extension, saturating float to int)
# and bulk memory; Binaryen refuses a module that uses anything else.
features="--enable-sign-ext --enable-nontrapping-float-to-int --enable-bulk-memory"

# -g keeps the function names in the output; see 3. above.
names_flag=""
case "${WASM_NAMES:-}" in
"" | 0) ;;
1) names_flag="-g" ;;
*) die "WASM_NAMES must be 1 (keep the name section) or unset, not '$WASM_NAMES'" ;;
esac

# build DIR: DIR/plugin.wasm from the package main in DIR, trimmed to DIR/exports.txt.
build() {
	dir=$1
	if [ ! -f "$dir/main.go" ] || [ ! -f "$dir/exports.txt" ]; then
		die "$dir is not a plugin folder (no main.go or exports.txt there)"
	fi
	rm -rf "$tmp/work" && mkdir "$tmp/work"

	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -buildvcs=false -o "$tmp/work/linked.wasm" "./$dir"

	# The metadce graph: one root that reaches every export to keep.
	names=$(sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$dir/exports.txt")
	{
		printf '[{"name": "root", "root": true, "reaches": ['
		sep=""
		for n in $names; do
			printf '%s"e:%s"' "$sep" "$n"
			sep=", "
		done
		printf ']}'
		for n in $names; do
			printf ', {"name": "e:%s", "export": "%s"}' "$n" "$n"
		done
		printf ']\n'
	} >"$tmp/work/graph.json"

	# shellcheck disable=SC2086 # features are separate words
	wasm-metadce $features -g -f "$tmp/work/graph.json" "$tmp/work/linked.wasm" -o "$tmp/work/trimmed.wasm" \
		>"$tmp/work/metadce.log" ||
		{ cat "$tmp/work/metadce.log" >&2; die "wasm-metadce failed for $dir"; }
	# metadce above keeps the names (-g) either way, so that both settings of
	# WASM_NAMES optimise the same input into the same code.
	# shellcheck disable=SC2086 # features and names_flag are separate words
	wasm-opt $features $names_flag -Oz "$tmp/work/trimmed.wasm" -o "$tmp/work/plugin.wasm" || die "wasm-opt failed for $dir"
	mv "$tmp/work/plugin.wasm" "$dir/plugin.wasm"
}

for dir in "$@"; do
	build "${dir%/}"
done
