package main

// build.sh keeps only the exports listed in exports.txt, so that Envoy skips
// the callbacks this plugin does not use. These tests hold the
// module to that list, and the plugin to implementing none of the callbacks
// the list leaves out (a callback whose export is gone would never be called).
// TestModuleLinksNoFmt keeps fmt out of the module (main.go says why).

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
