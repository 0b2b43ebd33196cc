#!/usr/bin/env bash
# Build the Pulumi Kubernetes resource provider plugin (pulumi-resource-kubernetes)
# from the Go module pinned in tools/pulumi-kubernetes, outside the repo:
#
#   ${ASMWASM_CACHE:-$HOME/.cache/asm-wasm}/pulumi-resource-kubernetes-<version>/bin/pulumi-resource-kubernetes
#
# Prints the path of the binary on stdout (progress goes to stderr), so callers can do
#   PATH="$(dirname "$(scripts/build-pulumi-kubernetes.sh)"):$PATH"
#
# Idempotent: a pulumi-resource-kubernetes already on PATH is used as is (the Pulumi
# engine does not check the version of ambient plugins), else a cached build is reused,
# else it is built. PULUMI_KUBERNETES_FORCE_BUILD=1 skips the PATH lookup and rebuilds.
#
# Why not `go install`: the provider's go.mod replaces sdk/v4 => ../sdk (ignored when it
# is a dependency, fatal when it is the main module), and cmd/pulumi-resource-kubernetes
# embeds schema-embed.json and terraform-mapping-embed.json, which `go generate` makes
# from the committed schema.json and are not in the module zip. So: fetch the module via
# the wrapper module (checksum-verified against tools/pulumi-kubernetes/go.sum), copy it to
# a writable build dir, drop the replace, generate, build.
set -euo pipefail

prog=build-pulumi-kubernetes
log() { printf '%s: %s\n' "$prog" "$*" >&2; }
die() { printf '%s: error: %s\n' "$prog" "$*" >&2; exit 1; }

# Everything runs inside main, called on the last line: bash then reads the whole file
# before running it, so editing or replacing this file during a build is safe.
main() {
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  wrapper=$root/tools/pulumi-kubernetes
  module=github.com/pulumi/pulumi-kubernetes/provider/v4
  cmd=cmd/pulumi-resource-kubernetes

  # The pinned module is the untagged commit f47bc2d6 of 2026-01-15, made after v4.24.1
  # (2025-11-24) and ~39 h before the v4.25.0 tag (2026-01-16); it already requires
  # pulumi/pkg v3.215.0 (2026-01-07), which no earlier release does. So it is reported
  # as the release it went into, 4.25.0. NOTE: the Python SDK pin is pulumi-kubernetes
  # 4.34.2, so the plugin is older than the SDK. The engine uses an ambient plugin anyway
  # and only warns ("expected to have version >=4.34.2, but has 4.25.0"); features added
  # to the provider after 4.25.0 are missing.
  version=${PULUMI_KUBERNETES_VERSION:-4.25.0}
  cache=${ASMWASM_CACHE:-$HOME/.cache/asm-wasm}
  prefix=$cache/pulumi-resource-kubernetes-$version
  bin=$prefix/bin/pulumi-resource-kubernetes

  if [[ "${PULUMI_KUBERNETES_FORCE_BUILD:-0}" != 1 ]]; then
    if onpath=$(command -v pulumi-resource-kubernetes 2>/dev/null); then
      log "using pulumi-resource-kubernetes already on PATH: $onpath (set PULUMI_KUBERNETES_FORCE_BUILD=1 to build $version)"
      printf '%s\n' "$onpath"
      exit 0
    fi
    if [[ -x "$bin" ]]; then
      log "cached: $bin"
      printf '%s\n' "$bin"
      exit 0
    fi
  fi

  [[ -f "$wrapper/go.mod" && -f "$wrapper/go.sum" ]] || die "missing $wrapper/go.mod or go.sum"
  command -v go >/dev/null 2>&1 || die "go not found on PATH"
  command -v flock >/dev/null 2>&1 || die "flock not found (Debian package util-linux)"

  # Build with the local Go; never switch toolchains behind our back.
  export GOTOOLCHAIN=local CGO_ENABLED=0
  goversion=$(go env GOVERSION)
  needgo=go$(awk '$1 == "go" { print $2; exit }' "$wrapper/go.mod")
  [[ "$(printf '%s\n' "$needgo" "$goversion" | sort -V | head -n1)" == "$needgo" ]] \
    || die "$goversion is too old: $wrapper/go.mod needs $needgo or newer"

  mkdir -p "$prefix"
  # One build per version at a time; a second caller waits, then finds the binary.
  exec 9>"$prefix/.lock"
  flock 9
  if [[ "${PULUMI_KUBERNETES_FORCE_BUILD:-0}" != 1 && -x "$bin" ]]; then
    log "cached (built by a concurrent run): $bin"
    printf '%s\n' "$bin"
    exit 0
  fi

  log "fetching $module as pinned in $wrapper (checksum-verified)"
  srcmod=$(cd "$wrapper" && go mod download "$module" && go list -m -f '{{.Dir}}' "$module") \
    || die "cannot download $module (is the Go module proxy reachable, and go.sum complete?)"
  [[ -f "$srcmod/$cmd/schema.json" ]] || die "$srcmod/$cmd/schema.json not found: unexpected module layout"

  src=$prefix/src
  rm -rf "$src"
  mkdir -p "$src" "$prefix/bin"
  cp -R "$srcmod/." "$src/"
  chmod -R u+w "$src"   # the module cache is read-only

  cd "$src"
  # Make the copy buildable as the main module: drop `replace sdk/v4 => ../sdk` so the
  # tagged sdk/v4 it already requires is used, and add the wrapper's checksums (the module's
  # own go.sum has none for sdk/v4, which it took from ../sdk). The dependency graph is the
  # same as the wrapper's, so -mod=readonly succeeds without touching the network for sums.
  go mod edit -dropreplace=github.com/pulumi/pulumi-kubernetes/sdk/v4
  sort -u go.sum "$wrapper/go.sum" > go.sum.new && mv go.sum.new go.sum

  log "generating embedded schema (VERSION=$version)"
  VERSION=$version go generate ./$cmd
  [[ -s "$cmd/schema-embed.json" && -s "$cmd/terraform-mapping-embed.json" ]] \
    || die "go generate did not produce $cmd/schema-embed.json and terraform-mapping-embed.json"

  log "building $bin (this takes several minutes on a cold cache)"
  go build -mod=readonly -trimpath \
    -ldflags "-s -w -X $module/pkg/version.Version=$version" \
    -o "$bin.tmp" "./$cmd"

  # Smoke test: a Pulumi plugin started with no arguments prints the port it listens on.
  "$bin.tmp" >"$prefix/.smoke.out" 2>"$prefix/.smoke.err" &
  pid=$!
  trap 'kill "$pid" 2>/dev/null || true' EXIT
  port=
  for _ in $(seq 1 100); do
    port=$(head -n1 "$prefix/.smoke.out" 2>/dev/null || true)
    [[ -n "$port" ]] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  trap - EXIT
  if ! [[ "$port" =~ ^[0-9]+$ ]]; then
    die "built binary did not print a port on start; stderr: $(head -c 2000 "$prefix/.smoke.err")"
  fi
  rm -f "$prefix/.smoke.out" "$prefix/.smoke.err"

  mv -f "$bin.tmp" "$bin"
  cd "$prefix"
  rm -rf "$src"
  log "built $bin ($(du -h "$bin" | cut -f1); smoke test printed port $port)"
  printf '%s\n' "$bin"
}

main "$@"
