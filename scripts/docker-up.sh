#!/usr/bin/env bash
# Start the sandbox's own Docker daemon (Debian's docker.io), which pulumi-docker's
# `docker.Image` builds the plugin image with and pushes from, as it does with the
# daemon of a CI runner or a laptop. Runs as root with its own socket, pid file, data
# root and exec root, so that the demo's sandbox and the tests' ($SANDBOX_DIR/test)
# each have one, and without a bridge or iptables rules (it runs no containers: a
# FROM scratch + ADD build needs none). State lives under
# ${SANDBOX_DIR:-<repo>/.sandbox}/docker/:
#   docker.sock dockerd.pid dockerd.log daemon.json  the daemon (key.json: its ID key, not /etc/docker's)
#   data/                                            its data root (built images, kept across restarts)
#   exec-root                                        the path of its exec root (short: see below)
#   config/                                          DOCKER_CONFIG for clients (logins land here, not ~/.docker)
#   env                                              DOCKER_HOST=unix://..., DOCKER_CONFIG
#
# Registry TLS: dockerd always counts 127.0.0.0/8 and ::1 as insecure registries
# (moby registry/config.go, loadInsecureRegistries, with no switch to turn it off), and
# for an insecure registry it skips certificate checks and never reads certs.d. So a CA
# for the loopback sandbox registry given to this daemon (/etc/docker/certs.d/HOST/ca.crt
# or the like) would be dead configuration, and none is written; the registry's TLS is
# checked by the pullers instead (ocitool pull and Istio's agent, with its CA).
#
# Environment: SANDBOX_DIR, DOCKER_READY_TIMEOUT (seconds, default 60).
# Idempotent: a daemon of this sandbox that answers is reused.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
state=${SANDBOX_DIR:-$repo/.sandbox}/docker
sock=$state/docker.sock
# dockerd insists on a pid file of its own (else /var/run/docker.pid, shared by every sandbox);
# dockerd.pid is sandbox/process.py's, like every other daemon's.
own_pidfile=$state/dockerd-own.pid
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
# proc running|spawn|stop DIR NAME ...: the sandbox's one way to start, find and stop a
# daemon (sandbox/process.py: dockerd.pid and dockerd.log in $state).
proc() { python3 "$repo/sandbox/process.py" "$@"; }
running_pid() { proc running "$state" dockerd; }

write_env() {
	(umask 077 && {
		printf 'DOCKER_HOST=%q\n' "unix://$sock"
		printf 'DOCKER_CONFIG=%q\n' "$state/config"
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
# The managed containerd puts its sockets under the exec root; keep that path short
# enough for a unix socket (108 bytes) even in a deep work tree, and distinct per
# sandbox (keyed by the state dir).
exec_root=$state/exec
if ((${#exec_root} > 60)); then
	exec_root=/run/asm-wasm-docker-$(printf '%s' "$state" | sha256sum | cut -c1-12)
fi
((${#sock} < 100)) || die "socket path too long: $sock (set SANDBOX_DIR to a shorter path)"
echo "$exec_root" >"$state/exec-root"
# Our own daemon.json, not /etc/docker's, so that a host's settings do not leak in; and our
# own identity key (20.10 keeps it in /etc/docker/key.json otherwise: every sandbox's daemon
# would have the same ID).
printf '{"deprecated-key-path": "%s"}\n' "$state/key.json" >"$state/daemon.json"
rm -f "$sock" "$envfile"

pid=$(proc spawn "$state" dockerd -- dockerd \
	--config-file "$state/daemon.json" \
	--host "unix://$sock" \
	--data-root "$state/data" \
	--exec-root "$exec_root" \
	--pidfile "$own_pidfile" \
	--iptables=false --ip6tables=false --ip-masq=false --bridge=none)

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
write_env

t1=$(date +%s.%N)
log "up: unix://$sock (pid $pid, $(dockerd --version | sed 's/,.*//')) in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')s; env: $envfile"
