package moduletest

import (
	"os"
	"testing"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
)

// Path is the module a plugin's tests load: the file named by the
// environment variable env, or the plugin.wasm that plugin/build.sh writes
// in the test's folder.
func Path(env string) string {
	if p := os.Getenv(env); p != "" {
		return p
	}
	return "plugin.wasm"
}

// Load compiles the module at path for the SDK's emulator (wazero) and
// closes it when t ends; it also returns the module's bytes. Compiling
// takes wazero seconds, so a test shares one VM among its emulator hosts,
// as plugins share a VM in Envoy.
func Load(t testing.TB, path string) (proxytest.WasmVMContext, []byte) {
	t.Helper()
	wasm, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (build the module first: plugin/build.sh)", err)
	}
	vm, err := proxytest.NewWasmVMContext(wasm)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	t.Cleanup(func() { vm.Close() })
	return vm, wasm
}
