#!/usr/bin/env bash
# Starts the local cloud: the TLS + htpasswd registry (plays ACR), the Docker daemon
# that pulumi-docker builds and pushes with, and the Kubernetes API server with
# Istio's WasmPlugin CRD (plays ASM and the data plane).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$repo/scripts/registry-up.sh"
"$repo/scripts/docker-up.sh"
"$repo/scripts/kube-up.sh"
