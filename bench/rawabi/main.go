// Command rawabi is the header-authorization plugin written straight on the
// proxy-wasm ABI 0.2.1, with no SDK: a prototype to measure what the
// proxy-wasm-go-sdk costs per request (see README.md). The configuration and
// the decision are the real plugin's (asmwasm.local/plugin/internal/headerauth,
// through a replace directive), so they behave identically.
//
// What it changes against the SDK build:
//   - it exports only the callbacks it needs, so Envoy skips the others
//     (proxy_on_response_headers, proxy_on_log, proxy_on_done, proxy_on_delete,
//     body and trailer callbacks, ...);
//   - it keeps no per-stream state: Envoy calls proxy_on_context_create right
//     before proxy_on_request_headers, in the same decodeHeaders, so the stream
//     created last is the one being decided;
//   - proxy_on_memory_allocate hands out one reused buffer, so reading the
//     header allocates nothing;
//   - the deny reply's headers are serialised once, when the plugin starts.
//
// A request therefore allocates nothing in the Go heap, allowed or denied.
package main

import (
	"bytes"
	"strconv"
	"unsafe"

	"asmwasm.local/plugin/internal/headerauth"
	"asmwasm.local/plugin/internal/headermap"
)

// main stays empty: a wasip1 c-shared module is driven through its exports.
func main() {}

// Proxy-wasm ABI 0.2.1 values used here.
const (
	logDebug    = 1
	logError    = 4
	logCritical = 5

	mapTypeHTTPRequestHeaders = 0
	bufferTypePluginConfig    = 7
	metricTypeCounter         = 0

	statusOK       = 0
	statusNotFound = 1

	actionContinue = 0
	actionPause    = 1

	noGrpcStatus = -1
)

// Counter names; Envoy shows them in /stats as wasmcustom.<name>.
const (
	metricAllowed = "header_authorization_allowed_total"
	metricDenied  = "header_authorization_denied_total"
)

// A plugin context that failed to start stays unknown here; should a host
// send it a request all the same, the request gets this reply.
const notStartedStatus = 503

// maxKeptLogBuf bounds the log buffer kept between requests.
const maxKeptLogBuf = 1024

// maxArena bounds the buffer proxy_on_memory_allocate reuses; a bigger
// request (a huge header value, a huge configuration) gets its own buffer.
const maxArena = 4096

var (
	notStartedHeaders = headermap.Serialize([][2]string{{"Content-Type", headerauth.DefaultDenyContentType}})
	notStartedBody    = []byte("header-authorization plugin is not configured")
)

//go:wasmimport env proxy_log
func proxyLog(level uint32, msg *byte, size int32) uint32

//go:wasmimport env proxy_get_buffer_bytes
func proxyGetBufferBytes(bufferType uint32, start int32, maxSize int32, returnData unsafe.Pointer, returnSize *int32) uint32

//go:wasmimport env proxy_get_header_map_value
func proxyGetHeaderMapValue(mapType uint32, key *byte, keySize int32, returnData unsafe.Pointer, returnSize *int32) uint32

//go:wasmimport env proxy_send_local_response
func proxySendLocalResponse(status uint32, details *byte, detailsSize int32, body *byte, bodySize int32, headers *byte, headersSize int32, grpcStatus int32) uint32

//go:wasmimport env proxy_define_metric
func proxyDefineMetric(metricType uint32, name *byte, nameSize int32, returnID *uint32) uint32

//go:wasmimport env proxy_increment_metric
func proxyIncrementMetric(metricID uint32, offset int64) uint32

// proxy_abi_version_0_2_1 tells the host which ABI this module speaks.
//
//go:wasmexport proxy_abi_version_0_2_1
func proxyABIVersion() {}

// The allocator. The host calls it while it copies a value into the module
// (here: the plugin configuration, a header value). Every such value is read
// and done with before the next host call that returns one, so one buffer
// serves them all.
var (
	// Where the host writes a returned value's address and size. Globals: as
	// locals they would escape (a wasmimport's pointer arguments do), one
	// allocation per header read.
	retPtr  uint32
	retSize int32

	arena     = make([]byte, 256)
	big       []byte // an oversized allocation, kept alive until the next one
	lastAlloc *byte
)

//go:wasmexport proxy_on_memory_allocate
func proxyOnMemoryAllocate(size uint32) *byte {
	big = nil
	switch {
	case int(size) <= len(arena):
		lastAlloc = &arena[0]
	case size <= maxArena:
		arena = make([]byte, size)
		lastAlloc = &arena[0]
	default:
		big = make([]byte, size)
		lastAlloc = &big[0]
	}
	return lastAlloc
}

// returned views the n bytes the host just wrote through the allocator at
// the address it stored in ptr. ok is false when that is not the buffer the
// allocator handed out.
func returned(ptr uint32, n int32) (b []byte, ok bool) {
	if n == 0 {
		return nil, true
	}
	if n < 0 || lastAlloc == nil || ptr != uint32(uintptr(unsafe.Pointer(lastAlloc))) {
		return nil, false
	}
	return unsafe.Slice(lastAlloc, n), true
}

// plugin is one started plugin context (one WasmPlugin configuration).
// Envoy may run several in one VM when they share the module and the VM
// configuration, so they are kept by id; usually there is one.
type plugin struct {
	id          uint32
	cfg         headerauth.Config
	denyHeaders []byte // serialised once
	denyBody    []byte
	allowed     uint32 // metric ids
	denied      uint32
}

var (
	plugins []*plugin
	// The stream created last and its plugin (nil: its plugin did not start).
	streamID     uint32
	streamPlugin *plugin
	// logBuf holds the denial's debug line while it is logged, reused from one
	// request to the next. The VM runs one callback at a time.
	logBuf []byte
)

func findPlugin(id uint32) *plugin {
	for _, p := range plugins {
		if p.id == id {
			return p
		}
	}
	return nil
}

func setPlugin(id uint32, p *plugin) {
	for i, q := range plugins {
		if q.id == id {
			if p == nil {
				plugins = append(plugins[:i], plugins[i+1:]...)
			} else {
				plugins[i] = p
			}
			return
		}
	}
	if p != nil {
		plugins = append(plugins, p)
	}
}

//go:wasmexport proxy_on_configure
func proxyOnConfigure(pluginID uint32, configSize int32) uint32 {
	setPlugin(pluginID, nil) // a plugin context that fails to (re)start serves nothing
	var data []byte
	if configSize > 0 {
		retPtr, retSize = 0, 0
		st := proxyGetBufferBytes(bufferTypePluginConfig, 0, 1<<31-1, unsafe.Pointer(&retPtr), &retSize)
		switch st {
		case statusOK:
			b, ok := returned(retPtr, retSize)
			if !ok {
				logString(logCritical, "cannot read the plugin configuration: the host returned it outside the buffer it was given; refusing to start")
				return 0
			}
			data = bytes.Clone(b) // the buffer is reused
		case statusNotFound:
		default:
			logString(logCritical, "cannot read the plugin configuration: host status "+strconv.Itoa(int(st))+"; refusing to start")
			return 0
		}
	}
	// No environment: the benchmark floor does without valueFromEnv (and the os package).
	cfg, err := headerauth.ParseConfig(data, func(string) (string, bool) { return "", false })
	if err != nil {
		logString(logCritical, err.Error()+"; refusing to start")
		return 0
	}
	p := &plugin{
		id:          pluginID,
		cfg:         cfg,
		denyHeaders: headermap.Serialize(cfg.DenyHeaders()),
		denyBody:    []byte(cfg.DenyBody),
	}
	var ok bool
	if p.allowed, ok = defineCounter(metricAllowed); !ok {
		return 0
	}
	if p.denied, ok = defineCounter(metricDenied); !ok {
		return 0
	}
	setPlugin(pluginID, p)
	return 1
}

func defineCounter(name string) (uint32, bool) {
	var id uint32
	if st := proxyDefineMetric(metricTypeCounter, unsafe.StringData(name), int32(len(name)), &id); st != statusOK {
		logString(logCritical, "cannot define the counter "+name+": host status "+strconv.Itoa(int(st))+"; refusing to start")
		return 0, false
	}
	return id, true
}

// proxyOnContextCreate notes which plugin context a new stream belongs to.
// Envoy calls it from Context::decodeHeaders, right before
// proxy_on_request_headers for the same stream and on the same thread, so
// remembering the last one is enough and no per-stream map is kept.
//
//go:wasmexport proxy_on_context_create
func proxyOnContextCreate(contextID, parentID uint32) {
	if parentID == 0 {
		return // a plugin context: proxy_on_configure follows
	}
	streamID = contextID
	streamPlugin = findPlugin(parentID)
}

//go:wasmexport proxy_on_request_headers
func proxyOnRequestHeaders(contextID uint32, numHeaders int32, endOfStream uint32) uint32 {
	p := streamPlugin
	if contextID != streamID {
		// Not expected from Envoy (see proxyOnContextCreate); fail closed.
		logString(logError, "request refused: the stream's plugin context is unknown")
		respond(notStartedStatus, notStartedHeaders, notStartedBody)
		return actionPause
	}
	if p == nil {
		logString(logError, "request refused: the plugin did not start")
		respond(notStartedStatus, notStartedHeaders, notStartedBody)
		return actionPause
	}
	verdict := p.cfg.Decide(hostHeaders{})
	if verdict.Allow {
		proxyIncrementMetric(p.allowed, 1)
		return actionContinue
	}
	proxyIncrementMetric(p.denied, 1)
	logBuf = p.cfg.AppendDenyLog(logBuf[:0], verdict.Got)
	proxyLog(logDebug, unsafe.SliceData(logBuf), int32(len(logBuf)))
	if cap(logBuf) > maxKeptLogBuf {
		logBuf = nil // a huge header value came by: do not keep its buffer
	}
	respond(p.cfg.DenyStatus, p.denyHeaders, p.denyBody)
	return actionPause
}

// respond sends a local reply; the caller stops the request there. If the
// host cannot send it, the request still stays paused: never let it through.
func respond(status uint32, headers, body []byte) {
	st := proxySendLocalResponse(status, nil, 0, unsafe.SliceData(body), int32(len(body)),
		unsafe.SliceData(headers), int32(len(headers)), noGrpcStatus)
	if st != statusOK {
		logString(logError, "cannot send the "+strconv.Itoa(int(status))+" reply: host status "+strconv.Itoa(int(st)))
	}
}

// hostHeaders reads the current request's headers from the host, which
// matches names case-insensitively and returns the first of repeated values.
// The value it returns is valid until the next host call that returns one.
type hostHeaders struct{}

func (hostHeaders) Get(name string) (string, bool) {
	retPtr, retSize = 0, 0
	if proxyGetHeaderMapValue(mapTypeHTTPRequestHeaders, unsafe.StringData(name), int32(len(name)), unsafe.Pointer(&retPtr), &retSize) != statusOK {
		return "", false
	}
	b, ok := returned(retPtr, retSize)
	if !ok {
		return "", false
	}
	return unsafe.String(unsafe.SliceData(b), len(b)), true
}

func logString(level uint32, msg string) {
	proxyLog(level, unsafe.StringData(msg), int32(len(msg)))
}
