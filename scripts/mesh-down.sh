#!/usr/bin/env bash
# Stops what scripts/mesh-up.sh started (forwarders, gateways, istiod, httpbin), deletes
# the gateway pods (while the API server answers) and the network namespace. Safe to run twice.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
py=${PYTHON:-$repo/venv/bin/python}
[[ -x $py ]] || py=python3 # stopping needs only the standard library
cd "$repo"
exec "$py" -m sandbox.mesh down
