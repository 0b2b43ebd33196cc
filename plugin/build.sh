#!/bin/sh
# Builds plugin.wasm (next to this script) with standard Go for wasip1.
# Same source and same Go toolchain give the same bytes: -trimpath drops
# local paths, and a c-shared wasip1 build carries no VCS stamp.
set -eu
cd "$(dirname "$0")"
GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -o plugin.wasm .
