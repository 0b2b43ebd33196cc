#!/usr/bin/env bash
# Installs every tool the local stack and the tests need, building from Go modules
# (or, for pulumi-resource-docker, from ../shared/third_party/pulumi-docker) what has
# no package here, into ${ASMWASM_CACHE:-~/.cache/asm-wasm} (keyed by version, so
# later runs on this machine reuse it). Writes $SANDBOX_DIR/tools.env, which puts
# them on PATH:  source .sandbox/tools.env
# A cold run takes about 35 minutes on 2 cores; a warm one a few seconds.
#
# Each tool is one line of progress, `[3/7] pulumi-resource-docker … done in 389s`,
# with the tools still to come; a build's own output (minutes of `go: downloading`)
# goes to $SANDBOX_DIR/logs/bootstrap/<tool>.log, whose tail and path are printed if
# it fails. The tools are built one after the other: each `go build` already keeps
# both cores busy, so running two at once was not measured to help here.
set -euo pipefail

log() { printf 'bootstrap-tools: %s\n' "$*" >&2; }

# Everything runs inside main, called on the last line: bash then reads the whole file
# before running it, so editing this file while a (long) bootstrap runs is safe.
main() {
	repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	sandbox=${SANDBOX_DIR:-$repo/.sandbox}
	logs=$sandbox/logs/bootstrap
	mkdir -p "$logs"
	start=$(date +%s)

	command -v go >/dev/null || { log "error: Go is required (go 1.26 on PATH)"; exit 1; }

	# key (also the log's name), what is built, and the command that prints the
	# tool's path (or KEY=path lines) on stdout.
	steps=(
		"pulumi|pulumi CLI + Python language host|$repo/scripts/build-pulumi.sh"
		"pulumi-kubernetes|pulumi-resource-kubernetes|$repo/scripts/build-pulumi-kubernetes.sh"
		"pulumi-docker|pulumi-resource-docker|$repo/scripts/build-pulumi-docker.sh"
		"ocitool|ocitool|$repo/scripts/build-ocitool.sh"
		"kube|kube-apiserver, kube-controller-manager, etcd|$repo/scripts/build-kube.sh"
		"istio|istiod and pilot-agent|$repo/scripts/build-istio.sh"
		"apt|Debian packages|apt_packages"
	)
	declare -gA out=()
	local i key label cmd line
	for i in "${!steps[@]}"; do
		IFS='|' read -r key label cmd <<<"${steps[i]}"
		step $((i + 1)) "${#steps[@]}" "$key" "$label" "$cmd" "$(left "$i")"
	done

	local exports=()
	for key in kube istio; do
		while IFS= read -r line; do exports+=("export $line"); done <<<"${out[$key]}"
	done
	{
		echo "# written by scripts/bootstrap-tools.sh"
		printf 'export PATH=%q:%q:%q:%q:%s\n' "${out[pulumi]}" "$(dirname "${out[pulumi-kubernetes]}")" \
			"$(dirname "${out[pulumi-docker]}")" "$(dirname "${out[ocitool]}")" "\"\$PATH\""
		printf 'export OCITOOL=%q\n' "${out[ocitool]}"
		printf '%s\n' "${exports[@]}"
	} >"$sandbox/tools.env"
	log "tools ready in $(($(date +%s) - start))s; source $sandbox/tools.env"
}

# left I: what the steps after step I build, for the progress line.
left() {
	local names="" j label
	for ((j = $1 + 1; j < ${#steps[@]}; j++)); do
		IFS='|' read -r _ label _ <<<"${steps[j]}"
		names+="${names:+; }$label"
	done
	echo "${names:-nothing}"
}

# step N TOTAL KEY LABEL COMMAND LEFT: runs COMMAND with its stderr in the step's log,
# prints how long it took (and, every minute, that it is still going), keeps its stdout
# in out[KEY].
step() {
	local n=$1 total=$2 key=$3 name=$4 cmd=$5 rest=$6
	local logf=$logs/$key.log t0 pid rc=0 next
	t0=$(date +%s)
	next=$((t0 + 60))
	printf '[%d/%d] %s … ' "$n" "$total" "$name" >&2
	"$cmd" >"$logf.out" 2>"$logf" &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		sleep 0.2
		if (($(date +%s) >= next)); then
			printf '\n      still building after %ds (log: %s) … ' "$((next - t0))" "$logf" >&2
			next=$((next + 60))
		fi
	done
	wait "$pid" || rc=$?
	if ((rc != 0)); then
		rm -f "$logf.out"
		printf 'FAILED after %ds (exit %d)\n' "$(($(date +%s) - t0))" "$rc" >&2
		tail -n 25 "$logf" | sed 's/^/      | /' >&2
		log "error: building $name failed; its whole output is in $logf"
		exit 1
	fi
	out[$key]=$(<"$logf.out")
	rm -f "$logf.out"
	# The build scripts say when they reuse a build (or say nothing at all).
	local how="done"
	if [[ ! -s $logf ]] || grep -qiE '^[a-z-]+: (cached|reusing|using|installed for)|already' "$logf"; then
		how="cached"
	fi
	printf '%s in %ds (left: %s)\n' "$how" "$(($(date +%s) - t0))" "$rest" >&2
}

# The Debian packages the sandbox scripts use (each script also installs its own when
# missing): the registry, htpasswd, openssl, shellcheck for `make lint`, and the Docker
# daemon that pulumi-docker builds with.
apt_packages() {
	local missing=() pkg_cmd
	for pkg_cmd in docker-registry:docker-registry apache2-utils:htpasswd openssl:openssl \
		shellcheck:shellcheck docker.io:dockerd; do
		command -v "${pkg_cmd#*:}" >/dev/null || missing+=("${pkg_cmd%%:*}")
	done
	if ((${#missing[@]} == 0)); then
		echo "already installed" >&2
		return 0
	fi
	echo "apt-get install ${missing[*]}" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2 ||
		{ apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2; }
}

main "$@"
