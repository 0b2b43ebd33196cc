// Command plugin is a proxy-wasm HTTP filter for Envoy (and so for Istio/ASM
// WasmPlugin): a request goes on to the upstream only when it carries a
// configured header with a configured value (by default `allow: true`); any
// other request gets a local 403 reply.
//
// This file is the thin host glue, on internal/proxyabi (which says why not
// the SDK); the configuration and the decision are plain Go in
// internal/headerauth.
//
// Nothing here calls fmt (log lines are joined by hand): one call of it
// links fmt's printer and reflect into the module, 0.31 MB, 0.2 MB of it
// code that Envoy's V8 compiles on every rollout (docs/benchmarks.md,
// "Issue #15 item 3"); a test keeps it out.
package main

import (
	"strconv"
	"syscall"
	"unsafe"

	"asmwasm.local/plugin/internal/headerauth"
	"asmwasm.local/plugin/internal/headermap"
	"asmwasm.local/plugin/internal/proxyabi"
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
	notStartedHeaders = headermap.Serialize([][2]string{{"Content-Type", headerauth.DefaultDenyContentType}})
	notStartedBody    = []byte("header-authorization plugin is not configured")
)

// main stays empty: a wasip1 c-shared module is driven through its exports.
func main() {}

func init() {
	proxyabi.SetNewPlugin(func() proxyabi.Plugin { return &plugin{} })
}

// plugin is one plugin context. It holds no per-request state, so every
// stream of it shares it.
type plugin struct {
	started     bool
	cfg         headerauth.Config
	denyHeaders []byte // serialised once, at start
	denyBody    []byte
	allowed     proxyabi.Counter
	denied      proxyabi.Counter
	// logBuf holds the denial's debug line while it is logged; it is reused
	// from one request to the next, so a denial allocates no log line. The VM
	// runs one callback at a time, so nothing else touches it meanwhile.
	logBuf []byte
}

func (p *plugin) Configure(data []byte) bool {
	// syscall.Getenv (what os.LookupEnv calls, without linking the os
	// package: 0.17 MB) reads the environment that Go's runtime copied from
	// WASI environ_get when the host called _initialize, and Envoy answers
	// that call with the VM's vm_config.environment_variables (Istio: the
	// WasmPlugin's vmConfig.env). The copy stays current: Envoy 1.40 starts
	// a new VM when an update changes the environment (tests/envoy).
	cfg, err := headerauth.ParseConfig(data, syscall.Getenv)
	if err != nil {
		proxyabi.Log(proxyabi.LogCritical, err.Error()+"; refusing to start")
		return false
	}

	p.cfg = cfg
	p.denyHeaders = headermap.Serialize(cfg.DenyHeaders())
	p.denyBody = []byte(cfg.DenyBody)
	p.allowed = proxyabi.DefineCounter(metricAllowed)
	p.denied = proxyabi.DefineCounter(metricDenied)
	p.started = true
	return true
}

func (p *plugin) OnRequestHeaders() proxyabi.Action {
	if !p.started {
		proxyabi.Log(proxyabi.LogError, "request refused: the plugin did not start")
		return respond(notStartedStatus, notStartedHeaders, notStartedBody)
	}
	// verdict.Got views the host's copy of the header value, which stays
	// valid through the log call below: nothing in between reads a value.
	verdict := p.cfg.Decide(hostHeaders{})
	if verdict.Allow {
		p.allowed.Increment()
		return proxyabi.Continue
	}
	p.denied.Increment()
	p.logBuf = p.cfg.AppendDenyLog(p.logBuf[:0], verdict.Got)
	proxyabi.Log(proxyabi.LogDebug, bytesAsString(p.logBuf))
	if cap(p.logBuf) > maxKeptLogBuf {
		p.logBuf = nil // a huge header value came by: do not keep its buffer
	}
	return respond(p.cfg.DenyStatus, p.denyHeaders, p.denyBody)
}

// bytesAsString views b as a string without copying it. Only for a string
// that is used up before b changes: here, a log line the host has read by
// the time proxyabi.Log returns.
func bytesAsString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// respond sends a local reply and stops the request there. If the host
// cannot send it, the request still stays paused: never let it through.
func respond(status uint32, headers, body []byte) proxyabi.Action {
	if st := proxyabi.SendLocalResponse(status, headers, body); st != proxyabi.StatusOK {
		proxyabi.Log(proxyabi.LogError, "cannot send the "+strconv.FormatUint(uint64(status), 10)+" reply: "+st.String())
	}
	return proxyabi.Pause
}

// hostHeaders reads the current request's headers from the host.
type hostHeaders struct{}

func (hostHeaders) Get(name string) (string, bool) {
	return proxyabi.RequestHeader(name)
}
