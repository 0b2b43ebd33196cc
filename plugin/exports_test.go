package main

// build.sh keeps only the exports listed in exports.txt, so that Envoy skips
// the callbacks this plugin does not use. These tests hold the
// module to that list, and the plugin to implementing none of the callbacks
// the list leaves out (a callback whose export is gone would never be called).
// They also keep fmt out of the module (main.go says why).

import (
	"testing"

	"asmwasm.local/plugin/internal/moduletest"
)

func TestModuleExports(t *testing.T) {
	moduletest.CheckExports(t, wasmPath(), "exports.txt", ".")
}
