#!/usr/bin/env bash
# Builds the Pulumi CLI and our Python language host from Go modules into a
# cache outside the repo, keyed by version, and prints the bin directory.
# A `pulumi` already on PATH at the pinned version is used as it is.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
version=v3.274.1   # keep in step with tools/pulumi/go.mod
cache=${ASMWASM_CACHE:-$HOME/.cache/asm-wasm}
bin=$cache/pulumi-$version/bin

if command -v pulumi >/dev/null 2>&1 && command -v pulumi-language-python >/dev/null 2>&1 \
  && command -v pulumi-resource-pulumi-python >/dev/null 2>&1 \
  && [ "$(pulumi version 2>/dev/null)" = "$version" ]; then
  dirname "$(command -v pulumi)"
  exit 0
fi

mkdir -p "$bin"
ldflags="-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$version"
cd "$here/tools/pulumi"
if [ ! -x "$bin/pulumi" ]; then
  echo "building pulumi $version (first time only, ~5 min on 2 cores)" >&2
  CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$bin/pulumi.tmp" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
  mv "$bin/pulumi.tmp" "$bin/pulumi"
fi
# The host is our own source, so it is rebuilt when that source changes.
src_hash=$(cat go.sum cmd/pulumi-language-python/*.go | sha256sum | cut -c1-16)
if [ ! -x "$bin/pulumi-language-python" ] || [ "$(cat "$bin/.langhost-src" 2>/dev/null)" != "$src_hash" ]; then
  echo "building pulumi-language-python" >&2
  CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$bin/pulumi-language-python" ./cmd/pulumi-language-python
  echo "$src_hash" > "$bin/.langhost-src"
fi
# The launcher script ships in the sdk/v3 module; the host expects it beside itself. So does
# the launcher of Python dynamic providers (pulumi.dynamic), which the engine finds on PATH.
sdk_dir=$(go list -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3)
install -m 0755 "$sdk_dir/python/cmd/pulumi-language-python-exec" "$bin/pulumi-language-python-exec"
install -m 0755 "$sdk_dir/python/dist/pulumi-resource-pulumi-python" "$bin/pulumi-resource-pulumi-python"
echo "$bin"
