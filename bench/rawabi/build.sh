#!/bin/sh
# Builds rawabi.wasm (next to this script) the way plugin/build.sh builds plugin.wasm,
# and prints its path: venv/bin/python -m bench.run_bench --compare-wasm raw="$(bench/rawabi/build.sh)"
set -eu
cd "$(dirname "$0")"
GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -o rawabi.wasm .
echo "$PWD/rawabi.wasm"
