package main

// Host-glue tests with the SDK's emulator, which runs the compiled
// plugin.wasm in wazero. The emulator holds a global lock: no t.Parallel, and every host
// is reset with defer. Only the callbacks the module exports are called
// (exports.txt): not the request side, and no stream completion, which would
// call proxy_on_log.

import (
	"strings"
	"testing"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"

	"asmwasm.local/plugin/internal/moduletest"
)

// wasmPath is the module the tests load: RESPONSE_HEADER_WASM, or the
// plugin.wasm that ../build.sh writes here.
func wasmPath() string { return moduletest.Path("RESPONSE_HEADER_WASM") }

// vmTest runs f against the compiled module in wazero, all emulator options
// sharing one wasm VM (moduletest.Load).
func vmTest(t *testing.T, f func(t *testing.T, newOpt func() *proxytest.EmulatorOption)) {
	t.Helper()
	vm, _ := moduletest.Load(t, wasmPath())
	f(t, func() *proxytest.EmulatorOption {
		return proxytest.NewEmulatorOption().WithVMContext(vm)
	})
}

// respond passes one response's headers through the plugin and returns what
// the host holds afterwards.
func respond(t *testing.T, host proxytest.HostEmulator, headers [][2]string) [][2]string {
	t.Helper()
	id := host.InitializeHttpContext()
	if action := host.CallOnResponseHeaders(id, headers, false); action != types.ActionContinue {
		t.Errorf("OnHttpResponseHeaders = %v, want ActionContinue", action)
	}
	return host.GetCurrentResponseHeaders(id)
}

func values(headers [][2]string, name string) []string {
	var vs []string
	for _, h := range headers {
		if strings.EqualFold(h[0], name) {
			vs = append(vs, h[1])
		}
	}
	return vs
}

func TestAddsTheConfiguredHeaderToEveryResponse(t *testing.T) {
	cases := []struct {
		config      string
		name, value string
	}{
		{"", "x-asm-plugin-chain", "response-header"},
		{"{}", "x-asm-plugin-chain", "response-header"},
		{`{"value": "second"}`, "x-asm-plugin-chain", "second"},
		{`{"name": "X-Served-Through", "value": "edge gateway"}`, "x-served-through", "edge gateway"},
	}
	vmTest(t, func(t *testing.T, newOpt func() *proxytest.EmulatorOption) {
		for _, c := range cases {
			t.Run(c.config, func(t *testing.T) {
				host, reset := proxytest.NewHostEmulator(newOpt().WithPluginConfiguration([]byte(c.config)))
				defer reset()
				if st := host.StartPlugin(); st != types.OnPluginStartStatusOK {
					t.Fatalf("StartPlugin = %v (critical logs %q)", st, host.GetCriticalLogs())
				}
				for _, status := range []string{"200", "403", "418", "503"} {
					got := respond(t, host, [][2]string{{":status", status}, {"content-type", "text/plain"}})
					if vs := values(got, c.name); len(vs) != 1 || vs[0] != c.value {
						t.Errorf("status %s: %s = %q, want [%q] (headers %q)", status, c.name, vs, c.value, got)
					}
					if vs := values(got, "content-type"); len(vs) != 1 || vs[0] != "text/plain" {
						t.Errorf("status %s: other headers changed: %q", status, got)
					}
				}
				if logs := host.GetErrorLogs(); len(logs) != 0 {
					t.Errorf("error logs %q", logs)
				}
			})
		}
	})
}

func TestBadConfigurationRefusesToStart(t *testing.T) {
	cases := map[string][]string{
		`{"name": "content-length"}`:  {`"name"`, "content-length", "HTTP header name"},
		`{"name": "x chain"}`:         {`"name"`, `got string "x chain"`},
		`{"value": "a\r\nx-evil: 1"}`: {`"value"`, "control characters"},
		`{"header": "x"}`:             {`"header"`, "unknown key", "one of name, value"},
		`{"name": "x"`:                {"truncated JSON"},
	}
	vmTest(t, func(t *testing.T, newOpt func() *proxytest.EmulatorOption) {
		for config, logHas := range cases {
			t.Run(config, func(t *testing.T) {
				host, reset := proxytest.NewHostEmulator(newOpt().WithPluginConfiguration([]byte(config)))
				defer reset()
				if st := host.StartPlugin(); st != types.OnPluginStartStatusFailed {
					t.Fatalf("StartPlugin = %v, want OnPluginStartStatusFailed", st)
				}
				logs := append(append([]string{}, host.GetCriticalLogs()...), host.GetErrorLogs()...)
				if len(logs) != 1 || !strings.HasSuffix(logs[0], "; refusing to start") {
					t.Fatalf("logs at error level and above: %q, want one line ending in \"; refusing to start\"", logs)
				}
				for _, part := range logHas {
					if !strings.Contains(logs[0], part) {
						t.Errorf("log line %q lacks %q", logs[0], part)
					}
				}
				// Should a host run it all the same: the response passes unmarked.
				got := respond(t, host, [][2]string{{":status", "200"}})
				if len(got) != 1 {
					t.Errorf("after a failed start the response headers became %q", got)
				}
			})
		}
	})
}
