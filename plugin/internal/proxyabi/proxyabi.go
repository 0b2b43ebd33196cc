// Package proxyabi binds this module's plugins to the proxy-wasm ABI 0.2
// that Envoy (and so Istio and ASM) speaks to a Wasm HTTP filter: the
// callbacks the host calls, and the few host calls the plugins make.
//
// Why our own and not proxy-wasm-go-sdk: measured in one run, the SDK build
// of header-authorization cost 3–6 µs of Envoy CPU more per request than the
// same logic on the bare ABI, and no part of that could be removed through
// the SDK's API (docs/benchmarks.md, "Issue #15"); this layer is the
// smallest that keeps the SDK's guarantees for what the plugins use. The
// SDK stays the tests' host: its proxytest emulator drives the compiled
// modules (main_test.go), and tests/envoy (test_envoy_shared_vm.py: two
// plugin contexts in one VM) and tests/compat run them in Envoy 1.36 to
// 1.40, so Envoy's own call order is what pins this layer.
//
// What it keeps from the SDK: a plugin context per proxy_on_context_create
// with no parent, its configuration handed over by proxy_on_configure and
// dropped at proxy_on_delete, each stream's callbacks sent to the plugin
// context it was created for, a request it cannot place refused, never let
// through. What it does not do per request: keep a map entry for a stream
// whose plugin acts on request headers only (Envoy creates a stream's
// context right before its request headers, see vmState.lastStream), allocate
// (the host copies values into one reused buffer), serialise a reply's
// headers (the plugin does it once, at start), or enter the module for a
// callback the plugin does not use (build.sh trims the exports a plugin
// does not list). Each of those was measured (docs/benchmarks.md).
//
// Only what the two plugins use is here: request and response headers,
// local replies, logs, counters. One callback runs at a time in a VM (each
// Envoy worker has its own), so the package state needs no locks.
package proxyabi

import (
	"slices"
	"strconv"
)

// Action tells the host whether a stream goes on (proxy-wasm FilterHeadersStatus).
type Action uint32

const (
	// Continue lets the stream go on to the next filter.
	Continue Action = 0
	// Pause stops the stream here; after a local reply it stays stopped.
	Pause Action = 1
)

// LogLevel is a proxy-wasm log level; the host drops lines below its own.
type LogLevel uint32

const (
	LogTrace LogLevel = iota
	LogDebug
	LogInfo
	LogWarn
	LogError
	LogCritical
)

// Status is what a host call returned (proxy-wasm WasmResult).
type Status uint32

const (
	StatusOK       Status = 0
	StatusNotFound Status = 1
)

// statusNames names the statuses a host returns (proxy-wasm's WasmResult).
var statusNames = [...]string{
	"Ok", "NotFound", "BadArgument", "SerializationFailure", "ParseFailure", "BadExpression",
	"InvalidMemoryAccess", "Empty", "CasMismatch", "ResultMismatch", "InternalFailure",
	"BrokenConnection", "Unimplemented",
}

func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "status " + strconv.FormatUint(uint64(s), 10)
}

// Plugin is one plugin context: one configuration of the plugin. Envoy may
// run several in one VM, when they share the module and the VM's settings.
type Plugin interface {
	// Configure gets the plugin's configuration (nil when there is none)
	// and reports whether the plugin can start. Envoy does not run a plugin
	// that refused to start; a new configuration comes with a new context.
	Configure(config []byte) bool
}

// RequestHeadersFilter is a Plugin that acts on request headers. Its
// module's exports.txt must list proxy_on_request_headers.
type RequestHeadersFilter interface {
	OnRequestHeaders() Action
}

// ResponseHeadersFilter is a Plugin that acts on response headers. Its
// module's exports.txt must list proxy_on_response_headers.
type ResponseHeadersFilter interface {
	OnResponseHeaders() Action
}

// SetNewPlugin sets how a plugin context is made; a plugin's init calls it.
func SetNewPlugin(f func() Plugin) {
	state.newPlugin = f
}

// Unknown-stream reply: a request the layer cannot tie to a plugin context
// is refused, as the SDK does (it panics, and Envoy fails the stream).
const (
	unknownStreamStatus = 500
	unknownStreamBody   = "proxy-wasm plugin: unknown stream"
)

// rootContext is a plugin context, the host's id for it, and the callbacks
// it implements, looked up once here rather than on every request.
type rootContext struct {
	id         uint32
	plugin     Plugin
	onRequest  RequestHeadersFilter  // nil if it does not act on requests
	onResponse ResponseHeadersFilter // nil if it does not act on responses
}

func newRootContext(id uint32, p Plugin) *rootContext {
	r := &rootContext{id: id, plugin: p}
	r.onRequest, _ = p.(RequestHeadersFilter)
	r.onResponse, _ = p.(ResponseHeadersFilter)
	return r
}

// vmState is what one VM holds: its plugin contexts and its live streams.
// No object per stream: the plugins keep no per-request state.
type vmState struct {
	newPlugin func() Plugin
	// plugins are the VM's plugin contexts: a few at most (one per
	// configuration sharing the VM), so a slice.
	plugins []*rootContext
	// The stream created last and its plugin context: Envoy creates a
	// stream's context in the VM in Context::decodeHeaders, right before it
	// calls proxy_on_request_headers for it, on the same worker thread, so
	// that call finds its stream here without a map.
	lastStream uint32
	lastPlugin *rootContext
	// streams ties a stream to its plugin context from proxy_on_context_create
	// to proxy_on_delete, only for plugins that also act later in the stream
	// (ResponseHeadersFilter). A map entry per request cost about 2 µs of
	// Envoy CPU per request in Envoy 1.40 (docs/benchmarks.md), so a plugin
	// that acts on request headers only does without it. A stream of a
	// plugin context the VM never created (never seen from Envoy) is held
	// here as nil: refused, whatever else the VM holds.
	streams map[uint32]*rootContext
}

var state = newVMState()

func newVMState() vmState {
	return vmState{streams: map[uint32]*rootContext{}}
}

// The host calls the dispatch below makes; tests replace them (natively
// there is no host).
var (
	logLine   = Log
	sendReply = SendLocalResponse
)

// contextCreated is proxy_on_context_create: a plugin context when parent
// is 0, else a stream of the plugin context parent.
func (s *vmState) contextCreated(id, parent uint32) {
	if parent == 0 {
		if s.newPlugin == nil {
			panic("proxyabi: the plugin did not call SetNewPlugin")
		}
		s.plugins = append(s.plugins, newRootContext(id, s.newPlugin()))
		return
	}
	p := s.plugin(parent)
	if p == nil {
		// Held as an orphan: its request is refused (requestHeaders).
		logLine(LogError, "stream "+strconv.FormatUint(uint64(id), 10)+" of unknown plugin context "+
			strconv.FormatUint(uint64(parent), 10))
		s.lastStream, s.lastPlugin = 0, nil
		s.streams[id] = nil
		return
	}
	s.lastStream, s.lastPlugin = id, p
	if p.onResponse != nil {
		s.streams[id] = p
	}
}

// plugin is the plugin context id, or nil.
func (s *vmState) plugin(id uint32) *rootContext {
	for _, r := range s.plugins {
		if r.id == id {
			return r
		}
	}
	return nil
}

// streamPlugin is the plugin context of stream id, or nil when it cannot
// be told: a stream of a plugin context the VM never created, or (not seen
// from Envoy) a request-only stream called out of order in a VM with
// several plugin contexts.
func (s *vmState) streamPlugin(id uint32) *rootContext {
	if id == s.lastStream && s.lastPlugin != nil {
		return s.lastPlugin
	}
	if p, ok := s.streams[id]; ok || len(s.plugins) != 1 {
		return p // nil for an orphan, or for a stream not found among several plugin contexts
	}
	// The VM's only plugin context (the usual case: one WasmPlugin per VM).
	return s.plugins[0]
}

// configure is proxy_on_configure with the configuration already read.
func (s *vmState) configure(id uint32, config []byte) bool {
	p := s.plugin(id)
	if p == nil {
		logLine(LogCritical, "configuration for unknown plugin context "+strconv.FormatUint(uint64(id), 10))
		return false
	}
	return p.plugin.Configure(config)
}

// requestHeaders is proxy_on_request_headers.
func (s *vmState) requestHeaders(id uint32) Action {
	p := s.streamPlugin(id)
	if p == nil {
		logLine(LogError, "request refused: stream "+strconv.FormatUint(uint64(id), 10)+" has no plugin context")
		sendReply(unknownStreamStatus, nil, []byte(unknownStreamBody))
		return Pause
	}
	if p.onRequest != nil {
		return p.onRequest.OnRequestHeaders()
	}
	return Continue
}

// responseHeaders is proxy_on_response_headers. A response of a stream it
// does not know goes on untouched: by then the request has passed (or was
// refused in requestHeaders).
func (s *vmState) responseHeaders(id uint32) Action {
	p := s.streamPlugin(id)
	if p == nil {
		logLine(LogError, "response of stream "+strconv.FormatUint(uint64(id), 10)+" with no plugin context")
		return Continue
	}
	if p.onResponse != nil {
		return p.onResponse.OnResponseHeaders()
	}
	return Continue
}

// deleted is proxy_on_delete: a stream or a plugin context is gone (the
// host numbers both from one counter).
func (s *vmState) deleted(id uint32) {
	if id == s.lastStream {
		s.lastStream, s.lastPlugin = 0, nil
	}
	delete(s.streams, id)
	for i, r := range s.plugins {
		if r.id == id {
			s.plugins = slices.Delete(s.plugins, i, i+1)
			break
		}
	}
}
