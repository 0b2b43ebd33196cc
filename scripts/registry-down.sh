#!/usr/bin/env bash
# Stop the sandbox registry started by scripts/registry-up.sh. Safe to run twice.
# Keeps the CA, the credentials and the stored images (data/); removes the env file.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
state=${SANDBOX_DIR:-$repo/.sandbox}/registry
pidfile=$state/registry.pid

log() { printf 'registry-down: %s\n' "$*" >&2; }

rm -f "$state/env"
if [[ ! -f $pidfile ]]; then
	log "not running (no $pidfile)"
	exit 0
fi
pid=$(<"$pidfile")
if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
	grep -qa docker-registry "/proc/$pid/cmdline" 2>/dev/null; then
	kill -TERM "$pid"
	for _ in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "pid $pid ignored SIGTERM for 10s; sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	log "stopped pid $pid"
else
	log "pid file was stale ($pid); nothing to stop"
fi
rm -f "$pidfile"
