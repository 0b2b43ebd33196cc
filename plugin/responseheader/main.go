// Command responseheader is a proxy-wasm HTTP filter that adds one configured
// header (by default `x-asm-plugin-chain: response-header`) to every response
// that passes through it on the way back, whether from the upstream or a
// local reply. Deployed beside header-authorization, it shows where in the
// filter chain each plugin sits (README.md, "Order in the chain").
//
// This file is the thin host glue, on internal/proxyabi; the configuration
// is plain Go in internal/addheader.
package main

import (
	"asmwasm.local/plugin/internal/addheader"
	"asmwasm.local/plugin/internal/proxyabi"
)

// main stays empty: a wasip1 c-shared module is driven through its exports.
func main() {}

func init() {
	proxyabi.SetNewPlugin(func() proxyabi.Plugin { return &plugin{} })
}

// plugin is one plugin context. It holds no per-request state, so every
// stream of it shares it.
type plugin struct {
	started bool
	cfg     addheader.Config
}

func (p *plugin) Configure(data []byte) bool {
	cfg, err := addheader.ParseConfig(data)
	if err != nil {
		proxyabi.Log(proxyabi.LogCritical, err.Error()+"; refusing to start")
		return false
	}
	p.cfg = cfg
	p.started = true
	return true
}

// OnResponseHeaders is the plugin's only per-request callback: it has
// nothing to do on the request side, and that export is trimmed away
// (exports.txt), so Envoy does not enter the VM for it.
func (p *plugin) OnResponseHeaders() proxyabi.Action {
	// Envoy does not run a plugin that failed to start; should a host do so
	// all the same, the response goes on unmarked: the header is a marker,
	// not a control.
	if !p.started {
		return proxyabi.Continue
	}
	// Added, not replaced: a header of that name from the upstream stays,
	// and two instances in one chain leave one value each.
	if st := proxyabi.AddResponseHeader(p.cfg.Name, p.cfg.Value); st != proxyabi.StatusOK {
		proxyabi.Log(proxyabi.LogError, "cannot add the "+p.cfg.Name+" response header: "+st.String())
	}
	return proxyabi.Continue
}
