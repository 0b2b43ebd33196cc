#!/usr/bin/env bash
# Build kube-apiserver, kube-controller-manager and etcd for the local
# Kubernetes sandbox.
#
# All three come from the wrapper module tools/kube (k8s.io/kubernetes, and the
# etcd server release that this kubernetes version requires). The binaries go
# to a cache outside the repo, keyed by the kubernetes version:
#   ${ASMWASM_CACHE:-$HOME/.cache/asm-wasm}/kube-<version>/bin/{kube-apiserver,kube-controller-manager,etcd}
# A cached binary whose --version output matches tools/kube/go.mod is reused;
# only the missing or stale ones are built.
#
# Binaries already on PATH are preferred when recent enough (kube-apiserver
# >= v1.30 with a kube-controller-manager of the same version, etcd >= 3.5);
# set ASMWASM_KUBE_FROM_PATH=0 to always use the pinned build.
#
# Output (stdout, one per line, for the caller to read):
#   KUBE_APISERVER=/abs/path/kube-apiserver
#   KUBE_CONTROLLER_MANAGER=/abs/path/kube-controller-manager
#   ETCD=/abs/path/etcd
# Progress and errors go to stderr.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
module_dir=$repo/tools/kube
cache_root=${ASMWASM_CACHE:-$HOME/.cache/asm-wasm}
# The WasmPlugin CRD validates spec.url with the Kubernetes URL CEL library;
# older API servers reject the CRD or its rules.
KUBE_MIN_MINOR=30
ETCD_MIN=3.5

log() { printf 'build-kube: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# version_ge A B: true when dotted version A >= B (leading "v" ignored).
version_ge() {
	[[ $(printf '%s\n%s\n' "${1#v}" "${2#v}" | sort -V | head -n1) == "${2#v}" ]]
}
# kube_version_of BIN: "v1.36.3" from "Kubernetes v1.36.3" (kube-apiserver and
# kube-controller-manager print the same line).
kube_version_of() { "$1" --version 2>/dev/null | awk '/^Kubernetes /{print $2; exit}'; }
# etcd_version BIN: "3.6.8" from "etcd Version: 3.6.8".
etcd_version() { "$1" --version 2>/dev/null | awk -F': ' '/^etcd Version/{print $2; exit}'; }

# emit APISERVER CONTROLLER_MANAGER ETCD
emit() {
	printf 'KUBE_APISERVER=%s\nKUBE_CONTROLLER_MANAGER=%s\nETCD=%s\n' "$1" "$2" "$3"
}

# 1. Binaries on PATH, when new enough.
if [[ ${ASMWASM_KUBE_FROM_PATH:-1} != 0 ]]; then
	path_api=$(command -v kube-apiserver || true)
	path_kcm=$(command -v kube-controller-manager || true)
	path_etcd=$(command -v etcd || true)
	if [[ -n $path_api && -n $path_etcd ]]; then
		api_v=$(kube_version_of "$path_api")
		kcm_v=$([[ -z $path_kcm ]] || kube_version_of "$path_kcm")
		etcd_v=$(etcd_version "$path_etcd")
		if [[ $api_v =~ ^v1\.([0-9]+)\. ]] && ((BASH_REMATCH[1] >= KUBE_MIN_MINOR)) &&
			[[ $kcm_v == "$api_v" ]] &&
			[[ -n $etcd_v ]] && version_ge "$etcd_v" "$ETCD_MIN"; then
			log "using PATH binaries: $path_api ($api_v), $path_kcm ($kcm_v), $path_etcd ($etcd_v)"
			emit "$path_api" "$path_kcm" "$path_etcd"
			exit 0
		fi
		kcm_found="no kube-controller-manager"
		[[ -z $path_kcm ]] || kcm_found="$path_kcm ${kcm_v:-unknown version}"
		log "ignoring PATH binaries ($path_api ${api_v:-unknown version}, $kcm_found, $path_etcd ${etcd_v:-unknown version}):" \
			"need kube-apiserver >= v1.$KUBE_MIN_MINOR, a kube-controller-manager of the same version and etcd >= $ETCD_MIN"
	fi
fi

# 2. The pinned build, from the cache or built now.
command -v go >/dev/null || die "go is required to build the kube binaries and etcd (not on PATH)"
command -v python3 >/dev/null || die "python3 is required"
[[ -f $module_dir/go.mod ]] || die "missing $module_dir/go.mod"

cd "$module_dir"
# mod_field MODULE FIELD: a field of the module's .info from the Go module cache
# (Version, Time, Origin.Hash); the version comes from tools/kube/go.mod.
mod_info() {
	local info
	info=$(go mod download -json "$1" | python3 -c 'import json, sys; print(json.load(sys.stdin)["Info"])') ||
		die "go mod download $1 failed (in $module_dir)"
	python3 - "$info" <<'EOF'
import json
import sys

info = json.load(open(sys.argv[1]))
print(info["Version"], info.get("Time", ""), info.get("Origin", {}).get("Hash", ""))
EOF
}
read -r kube_version kube_time kube_commit < <(mod_info k8s.io/kubernetes)
read -r etcd_version_pin _ etcd_commit < <(mod_info go.etcd.io/etcd/server/v3)
[[ $kube_version =~ ^v1\.([0-9]+)\.[0-9]+$ ]] || die "unexpected k8s.io/kubernetes version '$kube_version' in $module_dir/go.mod"
kube_minor=${BASH_REMATCH[1]}

bin_dir=$cache_root/kube-$kube_version/bin
api_bin=$bin_dir/kube-apiserver
kcm_bin=$bin_dir/kube-controller-manager
etcd_bin=$bin_dir/etcd

# kube_ok BIN / etcd_ok: the cached binary exists and reports the pinned version.
kube_ok() { [[ -x $1 && $(kube_version_of "$1") == "$kube_version" ]]; }
etcd_ok() { [[ -x $etcd_bin && v$(etcd_version "$etcd_bin") == "$etcd_version_pin" ]]; }
cached_ok() { kube_ok "$api_bin" && kube_ok "$kcm_bin" && etcd_ok; }

if cached_ok; then
	log "reusing $bin_dir (kube-apiserver and kube-controller-manager $kube_version, etcd $etcd_version_pin)"
	emit "$api_bin" "$kcm_bin" "$etcd_bin"
	exit 0
fi

mkdir -p "$bin_dir"
# One build at a time per cache entry; a second caller waits, then reuses.
exec 9>"$bin_dir/.lock"
command -v flock >/dev/null && flock 9
if cached_ok; then
	log "reusing $bin_dir (built by a concurrent run)"
	emit "$api_bin" "$kcm_bin" "$etcd_bin"
	exit 0
fi

# Same version stamps as the upstream release build (hack/lib/version.sh).
# The commit is known only when the module proxy reports the origin.
build_date=$(date -u -d "$kube_time" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)
kube_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	kube_ldflags+=" -X $pkg.gitVersion=$kube_version"
	kube_ldflags+=" -X $pkg.gitMajor=1 -X $pkg.gitMinor=$kube_minor"
	kube_ldflags+=" -X $pkg.gitCommit=${kube_commit:-unknown} -X $pkg.gitTreeState=clean"
	kube_ldflags+=" -X $pkg.buildDate=$build_date"
done
etcd_sha=${etcd_commit:0:7}
etcd_ldflags="-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=${etcd_sha:-unknown}"

tmp=$(mktemp -d "$bin_dir/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export CGO_ENABLED=0
# build LDFLAGS PACKAGE...: go build the main packages into $tmp, each binary
# named after its package directory. One go build for several packages
# compiles their shared dependencies once and links them in parallel.
build() {
	local ldflags=$1 t0 names
	shift
	t0=$(date +%s)
	names=$(printf '%s\n' "${@##*/}" | paste -sd ' ')
	log "building $names (this takes minutes on a cold cache)"
	go build -trimpath -ldflags "$ldflags" -o "$tmp/" "$@" ||
		die "go build $* failed (module $module_dir)"
	log "built $names in $(($(date +%s) - t0))s"
}
# Only what is missing or stale; the rest of the cache entry stays as it is.
kube_pkgs=()
kube_ok "$api_bin" || kube_pkgs+=(k8s.io/kubernetes/cmd/kube-apiserver)
kube_ok "$kcm_bin" || kube_pkgs+=(k8s.io/kubernetes/cmd/kube-controller-manager)
((${#kube_pkgs[@]} == 0)) || build "$kube_ldflags" "${kube_pkgs[@]}"
etcd_ok || build "$etcd_ldflags" ./cmd/etcd

installed=()
for pkg in "${kube_pkgs[@]}"; do
	name=${pkg##*/}
	[[ $(kube_version_of "$tmp/$name") == "$kube_version" ]] ||
		die "built $name reports '$(kube_version_of "$tmp/$name")', expected $kube_version"
	mv -f "$tmp/$name" "$bin_dir/$name"
	installed+=("$name $kube_version")
done
if [[ -e $tmp/etcd ]]; then
	[[ v$(etcd_version "$tmp/etcd") == "$etcd_version_pin" ]] ||
		die "built etcd reports '$(etcd_version "$tmp/etcd")', expected $etcd_version_pin"
	mv -f "$tmp/etcd" "$etcd_bin"
	installed+=("etcd $etcd_version_pin")
fi
log "installed $(printf '%s, ' "${installed[@]}" | sed 's/, $//') in $bin_dir"
emit "$api_bin" "$kcm_bin" "$etcd_bin"
