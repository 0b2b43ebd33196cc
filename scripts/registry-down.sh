#!/usr/bin/env bash
# Stop the sandbox registry started by scripts/registry-up.sh. Safe to run twice.
# Keeps the CA, the credentials and the stored images (data/); removes the env file.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
state=${SANDBOX_DIR:-$repo/.sandbox}/registry

log() { printf 'registry-down: %s\n' "$*" >&2; }

rm -f "$state/env"
# sandbox/process.py signals the pid only while that process names this state
# dir (a stale pid file is just removed); SIGKILL after 10s.
python3 "$repo/sandbox/process.py" stop "$state" registry --timeout 10
