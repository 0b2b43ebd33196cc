#!/usr/bin/env bash
# Stops everything sandbox-up.sh, mesh-up.sh (and make demo) started. Safe to run twice.
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
sandbox=${SANDBOX_DIR:-$repo/.sandbox}
"$repo/scripts/mesh-down.sh" # before the API server it watches
"$repo/scripts/kube-down.sh"
"$repo/scripts/docker-down.sh"
"$repo/scripts/registry-down.sh"
# The second registry that promotion copies into (sandbox/promote.py).
[ -d "$sandbox/prod/registry" ] && SANDBOX_DIR=$sandbox/prod "$repo/scripts/registry-down.sh"
exit 0
