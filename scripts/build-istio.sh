#!/usr/bin/env bash
# Build pilot-discovery (istiod) and pilot-agent for the local mesh sandbox.
#
# Both come from the wrapper module tools/istio (istio.io/istio at the
# pseudo-version pinned in its go.mod). The binaries go to a cache outside the
# repo, keyed by that version:
#   ${ASMWASM_CACHE:-$HOME/.cache/asm-wasm}/istio-<version>/bin/{pilot-discovery,pilot-agent}
# A cached binary whose `version -o json` tag matches tools/istio/go.mod is
# reused; only the missing or stale ones are built.
#
# Output (stdout, one per line, for the caller to read):
#   PILOT_DISCOVERY=/abs/path/pilot-discovery
#   PILOT_AGENT=/abs/path/pilot-agent
#   ISTIO_SOURCE=/abs/path/to/istio.io/istio@<version>  (module cache: the gateway's bootstrap template)
# Progress and errors go to stderr.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
module_dir=$repo/tools/istio
cache_root=${ASMWASM_CACHE:-$HOME/.cache/asm-wasm}

log() { printf 'build-istio: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

emit() { printf 'PILOT_DISCOVERY=%s\nPILOT_AGENT=%s\nISTIO_SOURCE=%s\n' "$1" "$2" "$istio_dir"; }

command -v go >/dev/null || die "go is required to build pilot-discovery and pilot-agent (not on PATH)"
command -v python3 >/dev/null || die "python3 is required"
[[ -f $module_dir/go.mod ]] || die "missing $module_dir/go.mod"

cd "$module_dir"
# The pinned version and source directory, from the Go module cache.
read -r istio_version istio_dir < <(
	go mod download -json istio.io/istio |
		python3 -c 'import json, sys; m = json.load(sys.stdin); print(m["Version"], m["Dir"])'
) || die "go mod download istio.io/istio failed (in $module_dir)"
[[ -n ${istio_dir:-} && -f $istio_dir/go.mod ]] || die "istio.io/istio source not found in the module cache"
# Pseudo-versions end in the 12-digit commit prefix.
istio_commit=${istio_version##*-}

bin_dir=$cache_root/istio-$istio_version/bin
discovery_bin=$bin_dir/pilot-discovery
agent_bin=$bin_dir/pilot-agent

# tag_of BIN: the build tag stamped below ("" when the binary is missing or
# was built otherwise).
tag_of() {
	[[ -x $1 ]] || return 0
	"$1" version -o json 2>/dev/null |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["clientVersion"]["tag"])' 2>/dev/null || true
}
bin_ok() { [[ $(tag_of "$1") == "$istio_version" ]]; }
cached_ok() { bin_ok "$discovery_bin" && bin_ok "$agent_bin"; }

if cached_ok; then
	log "reusing $bin_dir (istio.io/istio $istio_version)"
	emit "$discovery_bin" "$agent_bin"
	exit 0
fi

mkdir -p "$bin_dir"
# One build at a time per cache entry; a second caller waits, then reuses.
exec 9>"$bin_dir/.lock"
command -v flock >/dev/null && flock 9
if cached_ok; then
	log "reusing $bin_dir (built by a concurrent run)"
	emit "$discovery_bin" "$agent_bin"
	exit 0
fi

# Same version stamps as the upstream build (common/scripts/report_build_info.sh,
# VERSION := $(cat VERSION)-dev in Makefile.core.mk); the tag carries the module
# version so the cache check above can tell builds apart.
pkg=istio.io/istio/pkg/version
ldflags="-s -w"
ldflags+=" -X $pkg.buildVersion=$(cat "$istio_dir/VERSION")-dev"
ldflags+=" -X $pkg.buildGitRevision=$istio_commit"
ldflags+=" -X $pkg.buildStatus=Clean"
ldflags+=" -X $pkg.buildTag=$istio_version"
ldflags+=" -X $pkg.buildHub=local"
ldflags+=" -X $pkg.buildOS=$(go env GOOS) -X $pkg.buildArch=$(go env GOARCH)"

pkgs=()
bin_ok "$discovery_bin" || pkgs+=(istio.io/istio/pilot/cmd/pilot-discovery)
bin_ok "$agent_bin" || pkgs+=(istio.io/istio/pilot/cmd/pilot-agent)

tmp=$(mktemp -d "$bin_dir/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export CGO_ENABLED=0
names=$(printf '%s\n' "${pkgs[@]##*/}" | paste -sd ' ')
log "building $names from istio.io/istio $istio_version (this takes minutes on a cold cache)"
t0=$(date +%s)
# One go build for both packages compiles their shared dependencies once.
go build -trimpath -ldflags "$ldflags" -o "$tmp/" "${pkgs[@]}" ||
	die "go build ${pkgs[*]} failed (module $module_dir)"
log "built $names in $(($(date +%s) - t0))s"

for p in "${pkgs[@]}"; do
	name=${p##*/}
	[[ $(tag_of "$tmp/$name") == "$istio_version" ]] ||
		die "built $name reports tag '$(tag_of "$tmp/$name")', expected $istio_version"
	mv -f "$tmp/$name" "$bin_dir/$name"
done
log "installed $names ($istio_version) in $bin_dir"
emit "$discovery_bin" "$agent_bin"
