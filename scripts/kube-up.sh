#!/usr/bin/env bash
# Start a real Kubernetes API server (kube-apiserver + etcd) on loopback, with
# Istio's WasmPlugin CRD installed, and a kube-controller-manager running only
# the garbage collector and the namespace controller, for the sandbox and the
# e2e tests.
#
# No nodes, no scheduler: objects are stored and validated (OpenAPI schema,
# CEL rules) exactly as a real API server does, and nothing reconciles
# workloads. The controller manager finishes deletions as a real cluster does:
# the garbage collector deletes dependents and removes the foregroundDeletion
# and orphan finalizers (the Pulumi Kubernetes provider deletes with
# propagationPolicy=Foreground), the namespace controller empties and removes
# deleted namespaces. Binaries: scripts/build-kube.sh. The CRD comes from the
# istio.io/api module pinned in tools/istio-crd/go.mod, read from the Go module
# cache at run time.
#
# Everything lives under ${SANDBOX_DIR:-<repo>/.sandbox}/kube/:
#   pki/                          CA, serving certs (127.0.0.1, localhost) of the API server
#                                 and the controller manager, client cert (O=system:masters),
#                                 service-account signing key
#   etcd/                         etcd data (kept across restarts)
#   etcd.log apiserver.log controller-manager.log
#                                 process logs
#   etcd.pid apiserver.pid controller-manager.pid
#                                 the processes (scripts/kube-down.sh stops them)
#   kubeconfig                    self-contained (certificates embedded); the controller
#                                 manager uses it too
#   env                           KUBECONFIG, KUBE_API, KUBE_CA, KUBE_CLIENT_CERT, KUBE_CLIENT_KEY
#   wasmplugin-crd.json           the CRD as applied
#   ports                         API, etcd client, etcd peer and controller-manager
#                                 (/healthz) ports (reused when free)
#
# Environment: SANDBOX_DIR; KUBE_APISERVER, KUBE_CONTROLLER_MANAGER and ETCD
# (binaries to use; scripts/build-kube.sh supplies those not set); ASMWASM_CACHE
# (see build-kube.sh); KUBE_API_PORT (default: a free loopback port);
# KUBE_READY_TIMEOUT (seconds, default 180).
# Idempotent: a running API server of this sandbox is reused (the namespace and
# CRD are applied again, which is cheap), and its controller manager is started
# when it is not running.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
sandbox=$(realpath -m -- "${SANDBOX_DIR:-$repo/.sandbox}")
state=$sandbox/kube
pki=$state/pki
envfile=$state/env
timeout=${KUBE_READY_TIMEOUT:-180}
crd_name=wasmplugins.extensions.istio.io
crd_json=$state/wasmplugin-crd.json

log() { printf 'kube-up: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
span() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.1f", b-a}'; }
elapsed() { span "$1" "$(date +%s.%N)"; }

t0=$(date +%s.%N)
for tool in openssl python3 go ss curl base64; do
	command -v "$tool" >/dev/null || die "$tool is required (not on PATH)"
done

# proc running|spawn|stop DIR NAME ...: the sandbox's one way to start, find and
# stop a daemon (sandbox/process.py: NAME.pid and NAME.log in DIR; a pid counts
# only while that process runs and names DIR, so a recycled pid is not mistaken).
proc() { python3 "$repo/sandbox/process.py" "$@"; }
running_pid() { proc running "$state" "$1"; }
kube_api() { python3 "$repo/sandbox/kube_api.py" "$@"; }

# The WasmPlugin CRD, extracted in the background while the servers start.
extract_crd() {
	local dir
	dir=$(cd "$repo/tools/istio-crd" &&
		go mod download -json istio.io/api | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])') ||
		{ log "error: go mod download istio.io/api failed (tools/istio-crd/go.mod)"; return 1; }
	(cd "$repo/tools/istio-crd" &&
		go run . -bundle "$dir/kubernetes/customresourcedefinitions.gen.yaml" -name "$crd_name" -o "$crd_json.tmp") ||
		{ log "error: extracting $crd_name from $dir failed"; return 1; }
	mv -f "$crd_json.tmp" "$crd_json"
}
install_crd() {
	wait "$crd_pid" || die "could not extract the WasmPlugin CRD (see above)"
	kube_api ensure-namespace istio-system || die "could not create namespace istio-system"
	kube_api apply-crd "$crd_json" --timeout 60 || die "could not install $crd_name"
}

# Binaries: KUBE_APISERVER, KUBE_CONTROLLER_MANAGER and ETCD where set
# (build-kube.sh's output, as exported by .sandbox/tools.env); scripts/build-kube.sh
# (cached after the first build) supplies the others.
resolve_bins() {
	local bins='' var
	apiserver_bin=${KUBE_APISERVER:-} kcm_bin=${KUBE_CONTROLLER_MANAGER:-} etcd_bin=${ETCD:-}
	if [[ -z $apiserver_bin || -z $kcm_bin || -z $etcd_bin ]]; then
		bins=$("$repo/scripts/build-kube.sh") || die "scripts/build-kube.sh failed"
		: "${apiserver_bin:=$(sed -n 's/^KUBE_APISERVER=//p' <<<"$bins")}"
		: "${kcm_bin:=$(sed -n 's/^KUBE_CONTROLLER_MANAGER=//p' <<<"$bins")}"
		: "${etcd_bin:=$(sed -n 's/^ETCD=//p' <<<"$bins")}"
	fi
	for var in apiserver_bin kcm_bin etcd_bin; do
		[[ -x ${!var} ]] && continue
		[[ -n $bins ]] && die "build-kube.sh gave no usable binaries: $bins"
		die "KUBE_APISERVER=$apiserver_bin, KUBE_CONTROLLER_MANAGER=$kcm_bin or ETCD=$etcd_bin" \
			"is not an executable file; unset them to build them"
	done
}

# sign NAME SUBJECT EXTENSIONS...: an EC key and a certificate signed by the sandbox CA.
sign() {
	local name=$1 subject=$2
	shift 2
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$pki/$name.key" -out "$pki/$name.csr" -subj "$subject" 2>/dev/null
	openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
		-days 825 -out "$pki/$name.crt" -extfile <(printf '%s\n' "$@") 2>/dev/null
	rm -f "$pki/$name.csr"
	chmod 600 "$pki/$name.key"
}
# The controller manager's /healthz certificate (sandboxes from before it had none).
sign_controller_manager() {
	sign controller-manager "/CN=kube-controller-manager" \
		"subjectAltName=IP:127.0.0.1,DNS:localhost" \
		"basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth"
}

port_free() { [[ -z $(ss -Hltn "sport = :$1" 2>/dev/null) ]]; }
declare -A taken=()
# choose_port VAR [PREFERRED]: set VAR to PREFERRED when it is free, else to a
# random free loopback port; never the same port twice in this run.
choose_port() {
	local p=${2:-} _
	if ! [[ $p =~ ^[0-9]+$ && -z ${taken[$p]:-} ]] || ! port_free "$p"; then
		p=
		for _ in $(seq 1 200); do
			p=$((20000 + RANDOM % 30000))
			[[ -z ${taken[$p]:-} ]] && port_free "$p" && break
			p=
		done
		[[ -n $p ]] || die "no free loopback port found"
	fi
	taken[$p]=1
	printf -v "$1" '%s' "$p"
}
# Same ports as last time when they are free: the kubeconfig URL stays the
# same, and etcd's stored member (peer) URL still matches.
last_api='' last_etcd='' last_peer='' last_kcm='' kcm_port=''
[[ -s $state/ports ]] && read -r last_api last_etcd last_peer last_kcm _ <"$state/ports"

# kcm_healthy PORT: the controller manager's /healthz on PORT answers ok.
kcm_healthy() {
	[[ $(curl -s --max-time 2 --cacert "$pki/ca.crt" "https://127.0.0.1:$1/healthz" 2>/dev/null) == ok ]]
}

# start_controller_manager: start kube-controller-manager against the API
# server of $state/kubeconfig and wait until its /healthz is ok. Sets kcm_pid,
# kcm_port and t_kcm (seconds to healthy); the caller records the port.
start_controller_manager() {
	local t_start deadline
	[[ -s $state/kubeconfig ]] || die "missing $state/kubeconfig"
	[[ -s $pki/controller-manager.crt && -s $pki/controller-manager.key ]] || sign_controller_manager
	choose_port kcm_port "${last_kcm:-}"
	t_start=$(date +%s.%N)
	# Loopback only; no leader election (one instance). Every controller uses
	# the kubeconfig's system:masters identity (no service accounts, no token
	# controller). It serves /healthz (open to anyone) and /metrics with a
	# certificate of the sandbox CA; clients of the latter authenticate with
	# a certificate of the same CA (no lookup of the API server's
	# extension-apiserver-authentication ConfigMap, which has no request-header
	# CA here) or a token, reviewed by the API server, which also authorizes.
	kcm_pid=$(proc spawn "$state" controller-manager -- "$kcm_bin" \
		--kubeconfig="$state/kubeconfig" \
		--bind-address=127.0.0.1 --secure-port="$kcm_port" \
		--tls-cert-file="$pki/controller-manager.crt" --tls-private-key-file="$pki/controller-manager.key" \
		--client-ca-file="$pki/ca.crt" --authentication-skip-lookup \
		--authentication-kubeconfig="$state/kubeconfig" --authorization-kubeconfig="$state/kubeconfig" \
		--controllers=garbage-collector-controller,namespace-controller \
		--leader-elect=false \
		--use-service-account-credentials=false \
		--profiling=false) || die "could not start kube-controller-manager"
	started[controller-manager]=$kcm_pid
	deadline=$(($(date +%s) + timeout))
	until kcm_healthy "$kcm_port"; do
		running_pid controller-manager >/dev/null ||
			die "kube-controller-manager exited; last lines of $state/controller-manager.log: $(tail -n 5 "$state/controller-manager.log")"
		(($(date +%s) < deadline)) ||
			die "kube-controller-manager not healthy on 127.0.0.1:$kcm_port within ${timeout}s; see $state/controller-manager.log"
		sleep 0.1
	done
	t_kcm=$(elapsed "$t_start")
	log "kube-controller-manager healthy on 127.0.0.1:$kcm_port in ${t_kcm}s (pid $kcm_pid)"
}

# On a failure, stop what this run started (and only that): started maps a
# process name (its pid file: $state/NAME.pid) to its pid.
declare -A started=()
up=false
cleanup() {
	local name
	$up && return 0
	# Waits, so that a retry finds the ports and etcd's data dir released.
	for name in "${!started[@]}"; do proc stop "$state" "$name" || true; done
}
trap cleanup EXIT

mkdir -p "$state"
chmod 700 "$state"
# One kube-up.sh at a time per sandbox (a second one then finds everything
# running). The servers do not hold the lock: sandbox/process.py starts them
# with only stdin, stdout and stderr open.
exec 8>"$state/.kube-up.lock"
command -v flock >/dev/null && flock 8

# Reuse a running API server of this sandbox; start its controller manager
# when that is what is missing.
if api_pid=$(running_pid apiserver) && etcd_pid=$(running_pid etcd) && [[ -f $envfile ]]; then
	set -a
	# shellcheck disable=SC1090
	source "$envfile"
	set +a
	kube_api wait-ready --timeout 5 2>/dev/null ||
		die "apiserver pid $api_pid is running but $KUBE_API/readyz is not ok; run scripts/kube-down.sh"
	extract_crd &
	crd_pid=$!
	install_crd
	if kcm_pid=$(running_pid controller-manager); then
		# Allow a few seconds: a concurrent kube-up.sh may have just started it
		# (and records its port only once it is healthy).
		kcm_ok=false
		for _ in $(seq 1 20); do
			[[ -s $state/ports ]] && read -r _ _ _ last_kcm _ <"$state/ports"
			if [[ $last_kcm =~ ^[0-9]+$ ]] && kcm_healthy "$last_kcm"; then
				kcm_ok=true
				break
			fi
			sleep 0.5
		done
		$kcm_ok || die "kube-controller-manager pid $kcm_pid is running but its /healthz (port ${last_kcm:-unknown})" \
			"is not ok; see $state/controller-manager.log, or run scripts/kube-down.sh"
		kcm_note="controller-manager pid $kcm_pid"
	else
		log "kube-controller-manager is not running; starting it"
		resolve_bins
		start_controller_manager
		echo "$last_api $last_etcd $last_peer $kcm_port" >"$state/ports"
		kcm_note="controller-manager pid $kcm_pid, started in ${t_kcm}s"
	fi
	up=true
	log "already running: $KUBE_API (apiserver pid $api_pid, etcd pid $etcd_pid, $kcm_note); env: $envfile"
	exit 0
fi
# Leftovers of a half-started sandbox.
if running_pid apiserver >/dev/null || running_pid etcd >/dev/null || running_pid controller-manager >/dev/null; then
	log "stopping a partly running sandbox first"
	"$repo/scripts/kube-down.sh"
fi
rm -f "$envfile"

resolve_bins
t_bins=$(date +%s.%N)

extract_crd &
crd_pid=$!

# PKI, kept across restarts.
mkdir -p "$pki"
chmod 700 "$pki"
if [[ ! -s $pki/ca.crt || ! -s $pki/apiserver.crt || ! -s $pki/admin.crt || ! -s $pki/sa.key ]]; then
	log "creating CA, certificates and service-account key in $pki"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 \
		-keyout "$pki/ca.key" -out "$pki/ca.crt" -subj "/CN=asm-wasm sandbox kube CA" \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
		2>/dev/null
	chmod 600 "$pki/ca.key"
	sign apiserver "/CN=kube-apiserver" \
		"subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc" \
		"basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth"
	# O=system:masters: a superuser under any authorizer, no RBAC objects needed.
	sign admin "/O=system:masters/CN=sandbox-admin" \
		"basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" "extendedKeyUsage=clientAuth"
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$pki/sa.key" 2>/dev/null
	openssl pkey -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
	chmod 600 "$pki/sa.key"
	sign_controller_manager
fi

api_port='' etcd_port='' peer_port=''
if [[ -n ${KUBE_API_PORT:-} ]]; then
	port_free "$KUBE_API_PORT" || die "KUBE_API_PORT=$KUBE_API_PORT is already in use on 127.0.0.1"
	api_port=$KUBE_API_PORT
	taken[$api_port]=1
else
	choose_port api_port "${last_api:-}"
fi
choose_port etcd_port "${last_etcd:-}"
choose_port peer_port "${last_peer:-}"
server=https://127.0.0.1:$api_port

# etcd: loopback only, plain HTTP (nothing else can reach it), no fsync:
# sandbox data is disposable and fsync dominates start-up on a busy disk.
t_etcd=$(date +%s.%N)
etcd_pid=$(proc spawn "$state" etcd -- "$etcd_bin" --name sandbox --data-dir "$state/etcd" \
	--listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
	--listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
	--initial-cluster "sandbox=http://127.0.0.1:$peer_port" --initial-cluster-state new \
	--unsafe-no-fsync --log-level warn) || die "could not start etcd"
started[etcd]=$etcd_pid
deadline=$(($(date +%s) + 30))
until curl -sf --max-time 2 "http://127.0.0.1:$etcd_port/health" >/dev/null; do
	running_pid etcd >/dev/null || die "etcd exited; last lines of $state/etcd.log: $(tail -n 5 "$state/etcd.log")"
	(($(date +%s) < deadline)) || die "etcd not healthy on 127.0.0.1:$etcd_port within 30s; see $state/etcd.log"
	sleep 0.1
done
log "etcd healthy on 127.0.0.1:$etcd_port in $(elapsed "$t_etcd")s (pid $etcd_pid)"

# kube-apiserver: client-certificate auth against the sandbox CA, RBAC.
# ServiceAccount admission is off: the controller manager does not run the
# service-account controller, so nothing creates the default service accounts
# it would demand for pods.
t_api=$(date +%s.%N)
api_pid=$(proc spawn "$state" apiserver -- "$apiserver_bin" \
	--bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$api_port" \
	--etcd-servers="http://127.0.0.1:$etcd_port" \
	--tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
	--client-ca-file="$pki/ca.crt" \
	--service-account-issuer=https://kubernetes.default.svc.cluster.local \
	--service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
	--service-cluster-ip-range=10.96.0.0/24 \
	--authorization-mode=RBAC \
	--disable-admission-plugins=ServiceAccount \
	--profiling=false) || die "could not start kube-apiserver"
started[apiserver]=$api_pid

export KUBE_API=$server KUBE_CA=$pki/ca.crt KUBE_CLIENT_CERT=$pki/admin.crt KUBE_CLIENT_KEY=$pki/admin.key
kube_api wait-ready --timeout "$timeout" --pid "$api_pid" ||
	die "kube-apiserver not ready; last lines of $state/apiserver.log: $(tail -n 5 "$state/apiserver.log")"
t_ready=$(elapsed "$t_api")
echo "$api_port $etcd_port $peer_port" >"$state/ports"
log "kube-apiserver ready at $server in ${t_ready}s (pid $api_pid)"

b64() { base64 -w0 <"$1"; }
(umask 077 && cat >"$state/kubeconfig" <<EOF
# Written by scripts/kube-up.sh; rewritten at every start.
apiVersion: v1
kind: Config
clusters:
- name: asm-wasm-sandbox
  cluster:
    server: $server
    certificate-authority-data: $(b64 "$pki/ca.crt")
users:
- name: sandbox-admin
  user:
    client-certificate-data: $(b64 "$pki/admin.crt")
    client-key-data: $(b64 "$pki/admin.key")
contexts:
- name: asm-wasm-sandbox
  context:
    cluster: asm-wasm-sandbox
    user: sandbox-admin
current-context: asm-wasm-sandbox
EOF
)

install_crd

# After the CRD is established, so that the garbage collector's first
# discovery already watches WasmPlugins (it rediscovers resources only every 30s).
start_controller_manager
echo "$api_port $etcd_port $peer_port $kcm_port" >"$state/ports"

(umask 077 && {
	printf 'KUBECONFIG=%q\n' "$state/kubeconfig"
	printf 'KUBE_API=%q\n' "$server"
	printf 'KUBE_CA=%q\n' "$KUBE_CA"
	printf 'KUBE_CLIENT_CERT=%q\n' "$KUBE_CLIENT_CERT"
	printf 'KUBE_CLIENT_KEY=%q\n' "$KUBE_CLIENT_KEY"
} >"$envfile")

up=true
log "up: $server in $(elapsed "$t0")s (binaries: $(span "$t0" "$t_bins")s, apiserver start to ready: ${t_ready}s," \
	"controller-manager start to healthy: ${t_kcm}s); env: $envfile"
