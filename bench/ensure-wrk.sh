#!/bin/sh
# Makes sure wrk (the HTTP load generator) is on PATH: installs Debian's
# package when it is missing, and fails loudly when it cannot. Never skips.
set -eu
if command -v wrk >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-wrk: wrk is not installed and there is no apt-get here; install wrk yourself" >&2
    exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "ensure-wrk: wrk is not installed; run as root (or: sudo apt-get install wrk)" >&2
    exit 1
fi
echo "ensure-wrk: installing Debian's wrk" >&2
export DEBIAN_FRONTEND=noninteractive
# The package lists may be missing or stale on a fresh machine: install, and
# on failure refresh them once and try again.
apt-get install -y -q wrk >&2 || { apt-get update -q >&2 && apt-get install -y -q wrk >&2; } || {
    echo "ensure-wrk: apt-get could not install wrk" >&2
    exit 1
}
command -v wrk >/dev/null 2>&1 || { echo "ensure-wrk: wrk still not on PATH after installing" >&2; exit 1; }
