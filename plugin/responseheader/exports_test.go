package main

// build.sh trims responseheader/plugin.wasm to exports.txt; see ../exports_test.go.

import (
	"testing"

	"asmwasm.local/plugin/internal/moduletest"
)

func TestModuleExports(t *testing.T) {
	moduletest.CheckExports(t, wasmPath(), "exports.txt", ".")
}
