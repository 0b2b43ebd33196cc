// Command responseheader is a proxy-wasm HTTP filter that adds one configured
// header (by default `x-asm-plugin-chain: response-header`) to every response
// that passes through it on the way back, whether from the upstream or a
// local reply. Deployed beside header-authorization, it shows where in the
// filter chain each plugin sits (README.md, "Order in the chain").
//
// This file is the thin host glue; the configuration is plain Go in
// internal/addheader.
package main

import (
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"

	"asmwasm.local/plugin/internal/addheader"
	"asmwasm.local/plugin/internal/hostconfig"
)

// main stays empty: a wasip1 c-shared module is driven through its exports.
func main() {}

func init() {
	proxywasm.SetPluginContext(newPluginContext)
}

func newPluginContext(uint32) types.PluginContext {
	p := &pluginContext{}
	p.filter.plugin = p
	return p
}

type pluginContext struct {
	types.DefaultPluginContext

	started bool
	cfg     addheader.Config

	// filter holds no per-request state, so every stream shares it and a
	// request costs no context allocation.
	filter httpFilter
}

func (p *pluginContext) OnPluginStart(configSize int) types.OnPluginStartStatus {
	data, err := hostconfig.Read(configSize)
	if err != nil {
		proxywasm.LogCritical("cannot read the plugin configuration: " + err.Error() + "; refusing to start")
		return types.OnPluginStartStatusFailed
	}
	cfg, err := addheader.ParseConfig(data)
	if err != nil {
		proxywasm.LogCritical(err.Error() + "; refusing to start")
		return types.OnPluginStartStatusFailed
	}
	p.cfg = cfg
	p.started = true
	return types.OnPluginStartStatusOK
}

func (p *pluginContext) NewHttpContext(uint32) types.HttpContext {
	return &p.filter
}

type httpFilter struct {
	types.DefaultHttpContext
	plugin *pluginContext
}

// OnHttpResponseHeaders is the plugin's only per-request callback: the
// request side is left to the SDK's default, and its export is trimmed away
// (exports.txt), so Envoy does not enter the VM for it.
func (f *httpFilter) OnHttpResponseHeaders(int, bool) types.Action {
	p := f.plugin
	// Envoy does not run a plugin that failed to start; should a host do so
	// all the same, the response goes on unmarked: the header is a marker,
	// not a control.
	if !p.started {
		return types.ActionContinue
	}
	// Added, not replaced: a header of that name from the upstream stays,
	// and two instances in one chain leave one value each.
	if err := proxywasm.AddHttpResponseHeader(p.cfg.Name, p.cfg.Value); err != nil {
		proxywasm.LogError("cannot add the " + p.cfg.Name + " response header: " + err.Error())
	}
	return types.ActionContinue
}
