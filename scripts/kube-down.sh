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

# stop NAME: SIGTERM the recorded process (sandbox/process.py: only when it
# still names this state dir), SIGKILL after 20s.
stop() { python3 "$repo/sandbox/process.py" stop "$state" "$1" --timeout 20; }

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
