// Command plugin is a proxy-wasm HTTP filter for Envoy (and so for Istio/ASM
// WasmPlugin): a request goes on to the upstream only when it carries a
// configured header with a configured value (by default `allow: true`); any
// other request gets a local 403 reply.
//
// This file is the thin host glue; the configuration and the decision are
// plain Go in internal/headerauth.
//
// Nothing here calls fmt (log lines are joined by hand, the counters are
// bound in metrics_wasip1.go): one call of it links fmt's printer and reflect
// into the module, 0.31 MB, 0.2 MB of it code that Envoy's V8 compiles on
// every rollout (docs/benchmarks.md, "Issue #15 item 3"); a test keeps it out.
package main

import (
	"os"
	"strconv"
	"unsafe"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"

	"asmwasm.local/plugin/internal/headerauth"
	"asmwasm.local/plugin/internal/hostconfig"
)

// Counter names; Envoy shows them in /stats as wasmcustom.<name>.
const (
	metricAllowed = "header_authorization_allowed_total"
	metricDenied  = "header_authorization_denied_total"
)

// A failed start keeps the plugin from running in Envoy; should a host call
// it all the same, it refuses every request with this reply.
const notStartedStatus = 503

// maxKeptLogBuf bounds the log buffer kept between requests (see logBuf).
const maxKeptLogBuf = 1024

var (
	notStartedHeaders = [][2]string{{"Content-Type", headerauth.DefaultDenyContentType}}
	notStartedBody    = []byte("header-authorization plugin is not configured")
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

	started     bool
	cfg         headerauth.Config
	denyHeaders [][2]string
	denyBody    []byte
	allowed     counter
	denied      counter
	// logBuf holds the denial's debug line while it is logged; it is reused
	// from one request to the next, so a denial allocates no log line. The VM
	// runs one callback at a time, so nothing else touches it meanwhile.
	logBuf []byte

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
	// os.LookupEnv reads the environment that Go's runtime copied from WASI
	// environ_get when the host called _initialize, and Envoy answers that
	// call with the VM's vm_config.environment_variables (Istio: the
	// WasmPlugin's vmConfig.env). The copy stays current: Envoy 1.40 starts
	// a new VM when an update changes the environment (tests/envoy).
	cfg, err := headerauth.ParseConfig(data, os.LookupEnv)
	if err != nil {
		proxywasm.LogCritical(err.Error() + "; refusing to start")
		return types.OnPluginStartStatusFailed
	}

	p.cfg = cfg
	p.denyHeaders = cfg.DenyHeaders()
	p.denyBody = []byte(cfg.DenyBody)
	p.allowed = defineCounter(metricAllowed)
	p.denied = defineCounter(metricDenied)
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

func (f *httpFilter) OnHttpRequestHeaders(int, bool) types.Action {
	p := f.plugin
	if !p.started {
		proxywasm.LogError("request refused: the plugin did not start")
		return respond(notStartedStatus, notStartedHeaders, notStartedBody)
	}
	verdict := p.cfg.Decide(hostHeaders{})
	if verdict.Allow {
		p.allowed.increment()
		return types.ActionContinue
	}
	p.denied.increment()
	p.logBuf = p.cfg.AppendDenyLog(p.logBuf[:0], verdict.Got)
	proxywasm.LogDebug(bytesAsString(p.logBuf))
	if cap(p.logBuf) > maxKeptLogBuf {
		p.logBuf = nil // a huge header value came by: do not keep its buffer
	}
	return respond(p.cfg.DenyStatus, p.denyHeaders, p.denyBody)
}

// bytesAsString views b as a string without copying it. Only for a string
// that is used up before b changes: here, a log line the host has read by
// the time proxywasm.LogDebug returns.
func bytesAsString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// respond sends a local reply and stops the request there. If the host
// cannot send it, the request still stays paused: never let it through.
func respond(status uint32, headers [][2]string, body []byte) types.Action {
	if err := proxywasm.SendHttpResponse(status, headers, body, -1); err != nil {
		proxywasm.LogError("cannot send the " + strconv.FormatUint(uint64(status), 10) + " reply: " + err.Error())
	}
	return types.ActionPause
}

// hostHeaders reads the current request's headers from the host, which
// matches names case-insensitively and returns the first of repeated values.
type hostHeaders struct{}

func (hostHeaders) Get(name string) (string, bool) {
	v, err := proxywasm.GetHttpRequestHeader(name)
	return v, err == nil
}
