#!/usr/bin/env bash
# Stop the private Docker daemon started by scripts/docker-up.sh. Safe to run twice.
# Keeps the data root (built images) and the client config; removes the env file.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
state=${SANDBOX_DIR:-$repo/.sandbox}/docker
proc() { python3 "$repo/sandbox/process.py" "$@"; }

log() { printf 'docker-down: %s\n' "$*" >&2; }

rm -f "$state/env"
# On SIGTERM dockerd stops its managed containerd and unmounts its layers: give it time.
if pid=$(proc running "$state" dockerd); then
	proc stop "$state" dockerd --timeout 30
	log "stopped dockerd pid $pid"
else
	log "not running"
fi
# A containerd left behind by a killed dockerd: stop it by its own pid file.
exec_root=$(cat "$state/exec-root" 2>/dev/null || echo "$state/exec")
cpid=$(cat "$exec_root/containerd/containerd.pid" 2>/dev/null || true)
if [[ $cpid =~ ^[0-9]+$ ]] && kill -0 "$cpid" 2>/dev/null && grep -qa containerd "/proc/$cpid/cmdline" 2>/dev/null; then
	log "stopping leftover containerd pid $cpid"
	kill -TERM "$cpid" 2>/dev/null || true
fi
rm -f "$state/dockerd-own.pid" "$state/docker.sock"
