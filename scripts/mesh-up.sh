#!/usr/bin/env bash
# Starts the real mesh path on the sandbox: istiod (pilot-discovery) against the
# sandbox's API server and two gateways (pilot-agent driving the PyPI Envoy),
# `istio: ingressgateway` and `istio: ingressgateway-canary`, routing to httpbin;
# each is also a Running pod in istio-system whose podIP (a network namespace of
# this sandbox) the API server's pods proxy reaches. Needs scripts/sandbox-up.sh
# first, the venv (make venv) and root; builds Istio on first use
# (scripts/build-istio.sh, a few minutes, then cached). Details: sandbox/mesh.py,
# docs/istio-path.md. Reuses a running mesh.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
py=${PYTHON:-$repo/venv/bin/python}
[[ -x $py ]] || { echo "mesh-up: error: $py is missing: run make venv (or set PYTHON)" >&2; exit 1; }
cd "$repo"
exec "$py" -m sandbox.mesh up
