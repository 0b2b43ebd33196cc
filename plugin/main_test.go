package main

// Host-glue tests with the SDK's emulator, which runs the compiled
// plugin.wasm in wazero. The emulator holds a global lock, so no t.Parallel,
// and every host is reset with defer. Reading the accepted value from the
// VM's environment is tested where there is one: internal/headerauth (the
// lookup) and tests/envoy/test_envoy_vm_env.py (Envoy's vmConfig.env).

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"

	"asmwasm.local/plugin/internal/moduletest"
)

// wasmPath is the module the tests load: PLUGIN_WASM, or the plugin.wasm
// that ./build.sh writes.
func wasmPath() string { return moduletest.Path("PLUGIN_WASM") }

// vmTest runs f against plugin.wasm in wazero: the module as Envoy gets it,
// its host glue (internal/proxyabi) included. f gets a fresh emulator option
// from each newOpt call, completes it (configuration) and passes it to
// proxytest.NewHostEmulator. All options share one wasm VM (moduletest.Load).
func vmTest(t *testing.T, f func(t *testing.T, newOpt func() *proxytest.EmulatorOption)) {
	t.Helper()
	vm, wasm := moduletest.Load(t, wasmPath())
	streamDoneExported = slices.Contains(moduletest.Module(t, wasm), "proxy_on_log")
	f(t, func() *proxytest.EmulatorOption {
		return proxytest.NewEmulatorOption().WithVMContext(vm)
	})
}

// streamDoneExported tells whether the module under test exports proxy_on_log
// (vmTest sets it).
// A host calls a callback only when the module exports it (Envoy skips the
// others); the emulator's CompleteHttpContext calls proxy_on_log regardless,
// which fails on a module without it (build.sh leaves it out: exports.txt).
var streamDoneExported bool

// completeStream ends a stream the way Envoy does for this module.
func completeStream(host proxytest.HostEmulator, id uint32) {
	if streamDoneExported {
		host.CompleteHttpContext(id)
	}
}

// request is one request sent through the plugin and what must come of it.
type request struct {
	name    string
	headers [][2]string
	allow   bool
	// For a denied request: the reply and the debug line.
	status      uint32
	body        string
	contentType string
	log         string
}

// send runs each request through a started plugin, checks its outcome, then
// checks that the counters counted them all.
func send(t *testing.T, host proxytest.HostEmulator, requests []request) {
	t.Helper()
	var allowed, denied uint64
	for _, r := range requests {
		logsBefore := len(host.GetDebugLogs())
		id := host.InitializeHttpContext()
		action := host.CallOnRequestHeaders(id, r.headers, true)
		reply := host.GetSentLocalResponse(id)
		newLogs := host.GetDebugLogs()[logsBefore:]
		completeStream(host, id)

		if r.allow {
			allowed++
			if action != types.ActionContinue || reply != nil || len(newLogs) != 0 {
				t.Errorf("%s: got action %v, reply %+v, logs %q; want the request to continue untouched",
					r.name, action, reply, newLogs)
			}
			continue
		}
		denied++
		if action != types.ActionPause {
			t.Errorf("%s: action = %v, want ActionPause", r.name, action)
		}
		if reply == nil {
			t.Errorf("%s: no local reply, want %d", r.name, r.status)
			continue
		}
		if reply.StatusCode != r.status || string(reply.Data) != r.body {
			t.Errorf("%s: reply %d %q, want %d %q", r.name, reply.StatusCode, reply.Data, r.status, r.body)
		}
		if ct := headerValue(reply.Headers, "content-type"); ct != r.contentType {
			t.Errorf("%s: reply Content-Type %q, want %q (headers %q)", r.name, ct, r.contentType, reply.Headers)
		}
		if len(newLogs) != 1 || newLogs[0] != r.log {
			t.Errorf("%s: debug logs %q, want exactly [%q]", r.name, newLogs, r.log)
		}
	}
	checkCounter(t, host, metricAllowed, allowed)
	checkCounter(t, host, metricDenied, denied)
}

func checkCounter(t *testing.T, host proxytest.HostEmulator, name string, want uint64) {
	t.Helper()
	got, err := host.GetCounterMetric(name)
	if err != nil || got != want {
		t.Errorf("counter %s = %d (err %v), want %d", name, got, err, want)
	}
}

func headerValue(headers [][2]string, name string) string {
	for _, h := range headers {
		if strings.EqualFold(h[0], name) {
			return h[1]
		}
	}
	return ""
}

// seedDenied is the original plugin's answer to a request without allow: true.
func seedDenied(name string, headers [][2]string, got string) request {
	return request{
		name: name, headers: headers,
		status: 403, body: "Forbidden by ASM Wasm Plugin", contentType: "text/plain",
		log: "request header: 'allow' is " + got + ", only true can passthrough",
	}
}

func allowed(name string, headers [][2]string) request {
	return request{name: name, headers: headers, allow: true}
}

func startOK(t *testing.T, host proxytest.HostEmulator) {
	t.Helper()
	if st := host.StartPlugin(); st != types.OnPluginStartStatusOK {
		t.Fatalf("StartPlugin = %v, want OK (critical logs %q)", st, host.GetCriticalLogs())
	}
}

func TestDefaultConfigurationBehavesLikeTheSeed(t *testing.T) {
	base := [][2]string{{":method", "GET"}, {":path", "/status/418"}, {":authority", "httpbin"}}
	with := func(extra ...[2]string) [][2]string {
		return append(append([][2]string{}, base...), extra...)
	}
	requests := []request{
		seedDenied("no allow header", with(), ""),
		allowed("allow: true", with([2]string{"allow", "true"})),
		seedDenied("allow: false", with([2]string{"allow", "false"}), "false"),
		allowed("header name in other case", with([2]string{"Allow", "true"})),
		allowed("header name upper case", with([2]string{"ALLOW", "true"})),
		seedDenied("value in other case", with([2]string{"allow", "True"}), "True"),
		seedDenied("value with more after it", with([2]string{"allow", "true,true"}), "true,true"),
		seedDenied("empty value", with([2]string{"allow", ""}), ""),
		seedDenied("a similar header name", with([2]string{"allowed", "true"}), ""),
		seedDenied("repeated header: the first value counts", with([2]string{"allow", "false"}, [2]string{"allow", "true"}), "false"),
		allowed("repeated header, first is true", with([2]string{"allow", "true"}, [2]string{"allow", "false"})),
	}
	vmTest(t, func(t *testing.T, newOpt func() *proxytest.EmulatorOption) {
		host, reset := proxytest.NewHostEmulator(newOpt())
		defer reset()
		startOK(t, host)
		// Counters exist from the start, before any request.
		checkCounter(t, host, metricAllowed, 0)
		checkCounter(t, host, metricDenied, 0)
		send(t, host, requests)
	})
}

// Header values bigger than the buffer the module reuses for what the host
// returns (internal/proxyabi) get a buffer of their own; the requests after
// them read from the shared buffer again, and a big value never passes.
func TestBigHeaderValues(t *testing.T) {
	big := strings.Repeat("x", 10_000)
	bigTrue := "true" + strings.Repeat(" ", 5000) + "true"
	vmTest(t, func(t *testing.T, newOpt func() *proxytest.EmulatorOption) {
		host, reset := proxytest.NewHostEmulator(newOpt())
		defer reset()
		startOK(t, host)
		send(t, host, []request{
			seedDenied("a 10 kB value", [][2]string{{"allow", big}}, big),
			allowed("allow: true after it", [][2]string{{"allow", "true"}}),
			seedDenied("a big value that starts with true", [][2]string{{"allow", bigTrue}}, bigTrue),
			seedDenied("a short value after it", [][2]string{{"allow", "no"}}, "no"),
			allowed("allow: true again", [][2]string{{"allow", "true"}}),
		})
	})
}

func TestEmptyConfigurationMeansDefaults(t *testing.T) {
	vmTest(t, func(t *testing.T, newOpt func() *proxytest.EmulatorOption) {
		for _, config := range []string{"", "{}", " \n\t", "{ }"} {
			t.Run(strconv.Quote(config), func(t *testing.T) {
				host, reset := proxytest.NewHostEmulator(newOpt().WithPluginConfiguration([]byte(config)))
				defer reset()
				startOK(t, host)
				send(t, host, []request{
					seedDenied("no header", nil, ""),
					allowed("allow: true", [][2]string{{"allow", "true"}}),
				})
			})
		}
	})
}

func TestConfiguredHeaderValueAndReply(t *testing.T) {
	config := `{"header": "X-Api-Key", "value": "s3cr3t", "denyStatus": 401,
		"denyBody": "{\"error\":\"no key\"}", "denyContentType": "application/json"}`
	denied := func(name string, headers [][2]string, got string) request {
		return request{
			name: name, headers: headers,
			status: 401, body: `{"error":"no key"}`, contentType: "application/json",
			log: "request header: 'x-api-key' is " + got + ", only s3cr3t can passthrough",
		}
	}
	vmTest(t, func(t *testing.T, newOpt func() *proxytest.EmulatorOption) {
		host, reset := proxytest.NewHostEmulator(newOpt().WithPluginConfiguration([]byte(config)))
		defer reset()
		startOK(t, host)
		send(t, host, []request{
			allowed("configured header and value", [][2]string{{"x-api-key", "s3cr3t"}}),
			allowed("configured header in other case", [][2]string{{"X-API-KEY", "s3cr3t"}}),
			denied("value in other case", [][2]string{{"x-api-key", "S3CR3T"}}, "S3CR3T"),
			denied("the default header no longer opens", [][2]string{{"allow", "true"}}, ""),
		})
	})
}

// The stack sets "build" to the image digest; its gateway check reads it back
// from the deny reply to tell which build answers.
func TestDenyReplyCarriesTheConfiguredBuild(t *testing.T) {
	const build = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	vmTest(t, func(t *testing.T, newOpt func() *proxytest.EmulatorOption) {
		for config, want := range map[string]string{`{"build": "` + build + `"}`: build, `{}`: ""} {
			t.Run(config, func(t *testing.T) {
				host, reset := proxytest.NewHostEmulator(newOpt().WithPluginConfiguration([]byte(config)))
				defer reset()
				startOK(t, host)
				send(t, host, []request{seedDenied("no header", nil, ""),
					allowed("allow: true", [][2]string{{"allow", "true"}})})
				id := host.InitializeHttpContext()
				host.CallOnRequestHeaders(id, nil, true)
				reply := host.GetSentLocalResponse(id)
				if got := headerValue(reply.Headers, "x-wasm-plugin-build"); got != want {
					t.Errorf("deny reply x-wasm-plugin-build = %q, want %q", got, want)
				}
			})
		}
	})
}

func TestBadConfigurationRefusesToStartAndDeniesAll(t *testing.T) {
	cases := []struct {
		config string
		// Every piece must appear in the single critical log line.
		logHas []string
	}{
		{`{"headr": "allow"}`, []string{`"headr"`, "unknown key", "header, value, valueFromEnv, denyStatus"}},
		{`{"Header": "allow"}`, []string{`"Header"`, "unknown key", "case-sensitive"}},
		{`{"denyStatus": 99}`, []string{`"denyStatus"`, "99", "200 to 599"}},
		{`{"denyStatus": 600}`, []string{`"denyStatus"`, "600", "200 to 599"}},
		{`{"denyStatus": "403"}`, []string{`"denyStatus"`, "string", "200 to 599"}},
		{`{"denyStatus": 403.5}`, []string{`"denyStatus"`, "403.5", "200 to 599"}},
		{`{"header": ""}`, []string{`"header"`, "non-empty HTTP header name"}},
		{`{"header": "x allow"}`, []string{`"header"`, "HTTP header name"}},
		{`{"header": 1}`, []string{`"header"`, "number", "header name"}},
		{`{"value": null}`, []string{`"value"`, "null", "non-empty string"}},
		{`{"value": ""}`, []string{`"value"`, "non-empty string"}},
		{`{"denyBody": false}`, []string{`"denyBody"`, "boolean", "a string"}},
		{`{"denyContentType": "text/plain\n"}`, []string{`"denyContentType"`, "control characters"}},
		{`{"value": "a", "value": "b"}`, []string{`"value"`, "twice"}},
		{`{"header": "allow"`, []string{"JSON", "object"}},
		{`{"header": "allow"} {}`, []string{"after the JSON object"}},
		{`["allow"]`, []string{"array", "JSON object"}},
		{`null`, []string{"null", "JSON object"}},
		{`header: allow`, []string{"invalid JSON", "JSON object"}},
		{`{"value": "a", "valueFromEnv": "API_KEY"}`, []string{`"valueFromEnv"`, `"value"`, "not both"}},
		{`{"valueFromEnv": "` + unsetVariable + `"}`, []string{`"valueFromEnv"`, `environment variable "` + unsetVariable + `" is not set`, "vmConfig.env"}},
	}
	vmTest(t, func(t *testing.T, newOpt func() *proxytest.EmulatorOption) {
		for _, c := range cases {
			t.Run(c.config, func(t *testing.T) {
				host, reset := proxytest.NewHostEmulator(newOpt().WithPluginConfiguration([]byte(c.config)))
				defer reset()
				if st := host.StartPlugin(); st != types.OnPluginStartStatusFailed {
					t.Fatalf("StartPlugin = %v, want OnPluginStartStatusFailed", st)
				}
				logs := append(append([]string{}, host.GetCriticalLogs()...), host.GetErrorLogs()...)
				if len(logs) != 1 {
					t.Fatalf("logs at error level and above: %q, want exactly one line", logs)
				}
				for _, part := range c.logHas {
					if !strings.Contains(logs[0], part) {
						t.Errorf("log line %q lacks %q", logs[0], part)
					}
				}

				// Envoy does not run a plugin that failed to start; should a
				// host do so all the same, even allow: true must not pass.
				id := host.InitializeHttpContext()
				action := host.CallOnRequestHeaders(id, [][2]string{{"allow", "true"}}, true)
				reply := host.GetSentLocalResponse(id)
				if action != types.ActionPause || reply == nil || reply.StatusCode != notStartedStatus {
					t.Errorf("after a failed start: action %v, reply %+v; want a %d reply", action, reply, notStartedStatus)
				}
			})
		}
	})
}

// unsetVariable is an environment variable that no test sets (the emulator
// gives the module no environment at all).
const unsetVariable = "HEADER_AUTH_TEST_UNSET"
