// Command canary is a proxy-wasm plugin that must NOT survive an Envoy whose
// WASI poll_oneoff is a stub (Envoy before 1.39): it sleeps in every request,
// and a sleeping Go runtime calls poll_oneoff (golang/go#78513). Otherwise it
// answers like the real plugin with its default configuration (same counters,
// same 403), so bench/compat.py checks it the same way. The compatibility
// tests run it to prove that those checks see that failure. Never deployed.
package main

import (
	"time"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func main() {}

func init() {
	proxywasm.SetPluginContext(func(uint32) types.PluginContext { return &plugin{} })
}

type plugin struct {
	types.DefaultPluginContext
	allowed, denied proxywasm.MetricCounter
}

func (p *plugin) OnPluginStart(int) types.OnPluginStartStatus {
	p.allowed = proxywasm.DefineCounterMetric("header_authorization_allowed_total")
	p.denied = proxywasm.DefineCounterMetric("header_authorization_denied_total")
	return types.OnPluginStartStatusOK
}

func (p *plugin) NewHttpContext(uint32) types.HttpContext { return &filter{plugin: p} }

type filter struct {
	types.DefaultHttpContext
	plugin *plugin
}

// OnHttpRequestHeaders sleeps, then lets `allow: true` through and denies the rest.
func (f *filter) OnHttpRequestHeaders(int, bool) types.Action {
	time.Sleep(time.Millisecond)
	if v, err := proxywasm.GetHttpRequestHeader("allow"); err == nil && v == "true" {
		f.plugin.allowed.Increment(1)
		return types.ActionContinue
	}
	f.plugin.denied.Increment(1)
	headers := [][2]string{{"Content-Type", "text/plain"}}
	if err := proxywasm.SendHttpResponse(403, headers, []byte("Forbidden by ASM Wasm Plugin"), -1); err != nil {
		proxywasm.LogErrorf("cannot send the 403: %v", err)
	}
	return types.ActionPause
}
