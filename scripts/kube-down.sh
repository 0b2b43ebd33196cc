#!/usr/bin/env bash
# Stop the sandbox controller manager, API server and etcd started by
# scripts/kube-up.sh.
#
#   kube-down.sh           stop the processes; keep certificates and etcd data
#   kube-down.sh --purge   also delete ${SANDBOX_DIR:-<repo>/.sandbox}/kube/
#
# Safe to run twice, or when nothing runs: only pids recorded in the state dir,
# and only when their command line names that state dir, are signalled.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
sandbox=$(realpath -m -- "${SANDBOX_DIR:-$repo/.sandbox}")
state=$sandbox/kube

log() { printf 'kube-down: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

purge=false
case ${1:-} in
"") ;;
--purge) purge=true ;;
*) die "unknown argument '$1'; usage: kube-down.sh [--purge]" ;;
esac

# stop NAME: SIGTERM the recorded process, SIGKILL after 20s.
stop() {
	local name=$1 file=$state/$1.pid pid i
	[[ -f $file ]] || return 0
	pid=$(<"$file")
	if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
		tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$state/"; then
		kill "$pid" 2>/dev/null || true
		for i in $(seq 1 200); do
			kill -0 "$pid" 2>/dev/null || break
			((i % 50 == 0)) && log "waiting for $name (pid $pid) to exit"
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			log "$name (pid $pid) ignored SIGTERM for 20s; sending SIGKILL"
			kill -9 "$pid" 2>/dev/null || true
		fi
		log "stopped $name (pid $pid)"
	else
		log "$name not running (stale pid file)"
	fi
	rm -f "$file"
}

if [[ -d $state ]]; then
	# Clients before servers, so that none logs connection errors on the way down.
	stop controller-manager
	stop apiserver
	stop etcd
	rm -f "$state/env"
fi
if $purge && [[ -d $state ]]; then
	rm -rf "$state"
	log "removed $state"
fi
log "down"
