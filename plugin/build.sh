#!/bin/sh
# Builds the plugins of this Go module, each a package main in its own folder:
#   plugin/build.sh                 both: ./plugin.wasm (header-authorization)
#                                   and ./responseheader/plugin.wasm
#   plugin/build.sh DIR...          only these folders, relative to plugin/
#                                   (e.g. "." for header-authorization alone)
# Each is built with standard Go for wasip1 into DIR/plugin.wasm, then
# trimmed and optimised with Binaryen:
#   1. go build: -trimpath drops local paths, and a c-shared wasip1 build
#      carries no VCS stamp, so the same source and Go give the same bytes;
#   2. wasm-metadce keeps only the exports in DIR/exports.txt (see there why)
#      and drops the code only they reached;
#   3. wasm-opt -Oz shrinks the code, which V8 then compiles faster on every
#      rollout. -g keeps the function names: Envoy prints them in the in-VM
#      backtrace when the module traps.
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

# build DIR: DIR/plugin.wasm from the package main in DIR, trimmed to DIR/exports.txt.
build() {
	dir=$1
	if [ ! -f "$dir/main.go" ] || [ ! -f "$dir/exports.txt" ]; then
		die "$dir is not a plugin folder (no main.go or exports.txt there)"
	fi
	rm -rf "$tmp/work" && mkdir "$tmp/work"

	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -o "$tmp/work/linked.wasm" "./$dir"

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
	# shellcheck disable=SC2086
	wasm-opt $features -g -Oz "$tmp/work/trimmed.wasm" -o "$tmp/work/plugin.wasm" || die "wasm-opt failed for $dir"
	mv "$tmp/work/plugin.wasm" "$dir/plugin.wasm"
}

for dir in "$@"; do
	build "${dir%/}"
done
