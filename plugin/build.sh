#!/bin/sh
# Builds plugin.wasm (next to this script) with standard Go for wasip1, then
# trims and optimises it with Binaryen:
#   1. go build: -trimpath drops local paths, and a c-shared wasip1 build
#      carries no VCS stamp, so the same source and Go give the same bytes;
#   2. wasm-metadce keeps only the exports in exports.txt (see there why) and
#      drops the code only they reached;
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
	command -v wasm-opt >/dev/null 2>&1 && command -v wasm-metadce >/dev/null 2>&1 ||
		die "binaryen is installed but wasm-opt or wasm-metadce is not on PATH"
fi
case "$(wasm-opt --version)" in
*"version 108"*) ;;
*) echo "plugin/build.sh: note: $(wasm-opt --version), not 108 (Debian 12): the bytes may differ from other builds" >&2 ;;
esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -o "$tmp/linked.wasm" .

# The metadce graph: one root that reaches every export to keep.
names=$(sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' exports.txt)
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
} >"$tmp/graph.json"

# The Wasm features Go's wasip1 port emits (sign extension, saturating float to int)
# and bulk memory; Binaryen refuses a module that uses anything else.
features="--enable-sign-ext --enable-nontrapping-float-to-int --enable-bulk-memory"
# shellcheck disable=SC2086 # features are separate words
wasm-metadce $features -g -f "$tmp/graph.json" "$tmp/linked.wasm" -o "$tmp/trimmed.wasm" >"$tmp/metadce.log" ||
	{ cat "$tmp/metadce.log" >&2; die "wasm-metadce failed"; }
# shellcheck disable=SC2086
wasm-opt $features -g -Oz "$tmp/trimmed.wasm" -o "$tmp/plugin.wasm" || die "wasm-opt failed"
mv "$tmp/plugin.wasm" plugin.wasm
