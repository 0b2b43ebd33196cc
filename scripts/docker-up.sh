#!/usr/bin/env bash
# Start a private Docker daemon (Debian's docker.io) for `docker build` with the
# classic builder and pushes to the sandbox registry. Runs as root, with its own
# socket, data root and exec root, no iptables and no bridge. State lives under
# ${SANDBOX_DIR:-<repo>/.sandbox}/docker/:
#   docker.sock docker.pid dockerd.log daemon.json   the daemon (key.json: its ID key, not /etc/docker's)
#   data/ exec/                                       its data root and exec root
#   config/                                           DOCKER_CONFIG for clients (logins land here)
#   env                                               DOCKER_HOST=unix://..., DOCKER_CONFIG, DOCKER_BUILDKIT=0
#
# Registry TLS: dockerd treats 127.0.0.0/8 as an insecure registry by default
# (HTTPS tried first, certificate not verified), so pushing to the sandbox
# registry on 127.0.0.1 needs neither /etc/docker/certs.d nor the system store.
# Idempotent: a daemon of this sandbox that answers is reused.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
state=${SANDBOX_DIR:-$repo/.sandbox}/docker
sock=$state/docker.sock
pidfile=$state/docker.pid
envfile=$state/env
timeout=${DOCKER_READY_TIMEOUT:-60}

log() { printf 'docker-up: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

t0=$(date +%s.%N)

if ! command -v dockerd >/dev/null; then
	log "installing docker.io (apt)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io >/dev/null ||
		{ apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io >/dev/null; } ||
		die "apt-get install docker.io failed"
fi
command -v curl >/dev/null || die "curl is required"

ping() { [[ $(curl -s --max-time 2 --unix-socket "$sock" http://docker/_ping 2>/dev/null) == OK ]]; }
running_pid() {
	local pid
	[[ -f $pidfile ]] || return 1
	pid=$(<"$pidfile")
	[[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
		grep -qa dockerd "/proc/$pid/cmdline" 2>/dev/null || return 1
	echo "$pid"
}

write_env() {
	(umask 077 && {
		printf 'DOCKER_HOST=%q\n' "unix://$sock"
		printf 'DOCKER_CONFIG=%q\n' "$state/config"
		printf 'DOCKER_BUILDKIT=0\n'
	} >"$envfile")
}

if pid=$(running_pid); then
	ping || die "dockerd pid $pid runs but $sock does not answer; run scripts/docker-down.sh"
	write_env
	log "already running: unix://$sock (pid $pid, env $envfile)"
	exit 0
fi

mkdir -p "$state/data" "$state/config"
chmod 700 "$state" "$state/config"
# The managed containerd puts its sockets under the exec root; keep that path
# short enough for a unix socket (108 bytes) even in a deep work tree.
exec_root=$state/exec
if ((${#exec_root} > 60)); then
	exec_root=/run/asm-wasm-docker-$(printf '%s' "$state" | sha256sum | cut -c1-12)
fi
((${#sock} < 100)) || die "socket path too long: $sock (set SANDBOX_DIR to a shorter path)"
echo "$exec_root" >"$state/exec-root"
# Our own daemon.json, not /etc/docker's; its ID key goes here, not to /etc/docker/key.json.
printf '{"deprecated-key-path": "%s"}\n' "$state/key.json" >"$state/daemon.json"
rm -f "$sock" "$envfile"

setsid dockerd \
	--config-file "$state/daemon.json" \
	--host "unix://$sock" \
	--data-root "$state/data" \
	--exec-root "$exec_root" \
	--pidfile "$pidfile" \
	--iptables=false --ip6tables=false --ip-masq=false --bridge=none \
	>>"$state/dockerd.log" 2>&1 </dev/null &
pid=$!

deadline=$(($(date +%s) + timeout))
until ping; do
	if ! kill -0 "$pid" 2>/dev/null; then
		tail -n 20 "$state/dockerd.log" >&2 || true
		die "dockerd exited; see $state/dockerd.log"
	fi
	if (($(date +%s) >= deadline)); then
		die "dockerd did not answer on $sock within ${timeout}s; see $state/dockerd.log"
	fi
	sleep 0.2
done
# dockerd writes the pid file itself; make sure it is there for docker-down.sh.
[[ -s $pidfile ]] || echo "$pid" >"$pidfile"
write_env

t1=$(date +%s.%N)
log "up: unix://$sock (pid $pid) in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')s; env: $envfile"
