#!/usr/bin/env bash
# Installs every tool the local stack and the tests need, building from Go
# modules what has no package here, into ${ASMWASM_CACHE:-~/.cache/asm-wasm}
# (keyed by version, so later runs on this machine reuse it). Writes
# $SANDBOX_DIR/tools.env, which puts them on PATH:  source .sandbox/tools.env
# A cold run takes about 25 minutes on 2 cores; a warm one a few seconds.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
sandbox=${SANDBOX_DIR:-$repo/.sandbox}
mkdir -p "$sandbox"
log() { printf 'bootstrap-tools: %s\n' "$*" >&2; }
start=$(date +%s)

command -v go >/dev/null || { log "error: Go is required (go 1.26 on PATH)"; exit 1; }

pulumi_bin=$("$repo/scripts/build-pulumi.sh")
k8s_provider=$("$repo/scripts/build-pulumi-kubernetes.sh")
ocitool=$("$repo/scripts/build-ocitool.sh")
kube=$("$repo/scripts/build-kube.sh")
# istiod and its agent for the mesh path (sandbox/mesh.py asks build-istio.sh again: cached).
istio=$("$repo/scripts/build-istio.sh")

# Debian packages used by the sandbox scripts (each script also installs its own when missing).
missing=()
for pkg_cmd in docker-registry:docker-registry apache2-utils:htpasswd openssl:openssl shellcheck:shellcheck; do
  command -v "${pkg_cmd#*:}" >/dev/null || missing+=("${pkg_cmd%%:*}")
done
if ((${#missing[@]})); then
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null ||
    { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null; }
fi

{
  echo "# written by scripts/bootstrap-tools.sh"
  printf 'export PATH=%q:%q:%q:"$PATH"\n' "$pulumi_bin" "$(dirname "$k8s_provider")" "$(dirname "$ocitool")"
  printf 'export OCITOOL=%q\n' "$ocitool"
  sed 's/^/export /' <<<"$kube"
  sed 's/^/export /' <<<"$istio"
} >"$sandbox/tools.env"
log "tools ready in $(($(date +%s) - start))s; source $sandbox/tools.env"
