#!/usr/bin/env bash
# Gets the Pulumi Docker resource provider plugin (pulumi-resource-docker) that the
# `docker.Image` of components/image.py needs, and prints the binary's path (the only
# stdout line; progress goes to stderr), so callers can do
#   PATH="$(dirname "$(scripts/build-pulumi-docker.sh)"):$PATH"
#
# Two ways, in this order:
#   1. installed for Pulumi: ${PULUMI_HOME:-~/.pulumi}/plugins/resource-docker-v<version>/
#      (what `pulumi plugin install resource docker <version>` writes on a machine with
#      internet) is used as it is;
#   2. built from the offline source bundle ../shared/third_party/pulumi-docker/ (its
#      build.sh; PULUMI_DOCKER_SOURCE overrides the folder) into
#      ${ASMWASM_CACHE:-~/.cache/asm-wasm}/pulumi-docker-<version>/bin/, reused once built.
# Neither: it fails and says so. The module proxy cannot build it by itself: the bridge
# version the provider needs is refused there, and the Terraform provider it wraps is a
# patched git submodule (../shared/third_party/pulumi-docker/README.md).
#
# The version is the Python SDK's (requirements.txt: pulumi-docker==<version>): the engine
# takes an ambient plugin of any version, so a mismatch would go unnoticed otherwise.
set -euo pipefail

prog=build-pulumi-docker
log() { printf '%s: %s\n' "$prog" "$*" >&2; }
die() { printf '%s: error: %s\n' "$prog" "$*" >&2; exit 1; }

main() {
	root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	version=$(sed -n 's/^pulumi-docker==\([0-9.]*\)$/\1/p' "$root/requirements.txt")
	[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "no pulumi-docker==X.Y.Z pin in $root/requirements.txt"
	cache=${ASMWASM_CACHE:-$HOME/.cache/asm-wasm}
	prefix=$cache/pulumi-docker-$version
	bin=$prefix/bin/pulumi-resource-docker
	installed=${PULUMI_HOME:-$HOME/.pulumi}/plugins/resource-docker-v$version/pulumi-resource-docker
	source_dir=${PULUMI_DOCKER_SOURCE:-$root/../shared/third_party/pulumi-docker}

	if [[ -x $installed ]]; then
		log "installed for Pulumi: $installed"
		printf '%s\n' "$installed"
		exit 0
	fi
	if [[ -x $bin ]]; then
		log "cached: $bin"
		printf '%s\n' "$bin"
		exit 0
	fi

	if [[ ! -f $source_dir/build.sh ]]; then
		die "pulumi-resource-docker $version is neither installed for Pulumi ($installed:" \
			"\`pulumi plugin install resource docker $version\` on a machine with internet) nor buildable here" \
			"($source_dir/build.sh not found: put the shared/ folder beside the repo, or set PULUMI_DOCKER_SOURCE)"
	fi
	bundled=$(sed -n 's/^VERSION=//p' "$source_dir/build.sh")
	[[ $bundled == "$version" ]] ||
		die "$source_dir builds pulumi-resource-docker $bundled, but requirements.txt pins pulumi-docker==$version"
	command -v go >/dev/null || die "go not found on PATH"
	command -v flock >/dev/null || die "flock not found (Debian package util-linux)"

	mkdir -p "$prefix/bin"
	# One build per version at a time; a second caller waits, then finds the binary.
	exec 9>"$prefix/.lock"
	flock 9
	if [[ -x $bin ]]; then
		log "cached (built by a concurrent run): $bin"
		printf '%s\n' "$bin"
		exit 0
	fi

	log "building pulumi-resource-docker $version from $source_dir (about 6.5 min on a cold module cache)"
	t0=$(date +%s)
	# Build into a scratch dir and move the binary in only once it has answered, so that a
	# half-done build is never taken for a cached one.
	out=$(mktemp -d "$prefix/.build.XXXXXX")
	trap 'rm -rf "$out"' EXIT
	# build.sh lives in a read-only folder in CI: run it with bash, from anywhere.
	GOTOOLCHAIN=local bash "$source_dir/build.sh" "$out" >&2 || die "$source_dir/build.sh failed"

	# Smoke test: a Pulumi plugin started with no arguments prints the port it listens on.
	"$out/pulumi-resource-docker" >"$out/smoke.out" 2>"$out/smoke.err" &
	pid=$!
	port=
	for _ in $(seq 1 100); do
		port=$(head -n1 "$out/smoke.out" 2>/dev/null || true)
		[[ -n $port ]] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	[[ $port =~ ^[0-9]+$ ]] ||
		die "the built plugin printed no port on start; stderr: $(head -c 2000 "$out/smoke.err")"

	mv -f "$out/pulumi-resource-docker" "$bin"
	log "built $bin in $(($(date +%s) - t0))s ($(du -h "$bin" | cut -f1))"
	printf '%s\n' "$bin"
}

main "$@"
