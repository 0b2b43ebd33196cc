#!/usr/bin/env bash
# Stop the private Docker daemon started by scripts/docker-up.sh. Safe to run twice.
# Keeps the data root (built images) and the client config; removes the env file.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
state=${SANDBOX_DIR:-$repo/.sandbox}/docker
pidfile=$state/docker.pid

log() { printf 'docker-down: %s\n' "$*" >&2; }

rm -f "$state/env"
if [[ ! -f $pidfile ]]; then
	log "not running (no $pidfile)"
	exit 0
fi
pid=$(<"$pidfile")
if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && grep -qa dockerd "/proc/$pid/cmdline" 2>/dev/null; then
	# On SIGTERM dockerd stops its managed containerd and unmounts its layers.
	kill -TERM "$pid"
	for _ in $(seq 1 150); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "dockerd pid $pid ignored SIGTERM for 30s; sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	log "stopped dockerd pid $pid"
else
	log "pid file was stale ($pid); nothing to stop"
fi
# A containerd left behind by a killed dockerd: stop it by its own pid file.
exec_root=$(cat "$state/exec-root" 2>/dev/null || echo "$state/exec")
cpid=$(cat "$exec_root/containerd/containerd.pid" 2>/dev/null || true)
if [[ $cpid =~ ^[0-9]+$ ]] && kill -0 "$cpid" 2>/dev/null && grep -qa containerd "/proc/$cpid/cmdline" 2>/dev/null; then
	log "stopping leftover containerd pid $cpid"
	kill -TERM "$cpid" 2>/dev/null || true
fi
rm -f "$pidfile" "$state/docker.sock"
