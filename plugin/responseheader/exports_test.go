package main

// build.sh trims responseheader/plugin.wasm to exports.txt; see ../exports_test.go.

import (
	"testing"

	"asmwasm.local/plugin/internal/wasmexports"
)

func TestModuleExportsExactlyTheListedCallbacks(t *testing.T) {
	wasmexports.CheckModule(t, wasmPath(), "exports.txt")
}

func TestPluginImplementsNoDroppedCallback(t *testing.T) {
	wasmexports.CheckSources(t, ".", "exports.txt")
}

func TestModuleLinksNoFmt(t *testing.T) {
	wasmexports.CheckNoFmt(t, wasmPath())
}
