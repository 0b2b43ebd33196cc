package proxyabi

import (
	"strconv"
	"unsafe"
)

//go:wasmimport env proxy_log
func proxyLog(level LogLevel, msg *byte, size int32) Status

//go:wasmimport env proxy_get_buffer_bytes
func proxyGetBufferBytes(buffer uint32, start, maxSize int32, returnData *uint32, returnSize *int32) Status

//go:wasmimport env proxy_get_header_map_value
func proxyGetHeaderMapValue(mapType uint32, key *byte, keySize int32, returnData *uint32, returnSize *int32) Status

//go:wasmimport env proxy_add_header_map_value
func proxyAddHeaderMapValue(mapType uint32, key *byte, keySize int32, value *byte, valueSize int32) Status

//go:wasmimport env proxy_send_local_response
func proxySendLocalResponse(status uint32, details *byte, detailsSize int32, body *byte, bodySize int32,
	headers *byte, headersSize int32, grpcStatus int32) Status

//go:wasmimport env proxy_define_metric
func proxyDefineMetric(metricType uint32, name *byte, nameSize int32, returnID *uint32) Status

//go:wasmimport env proxy_increment_metric
func proxyIncrementMetric(id uint32, offset int64) Status

// proxy-wasm buffer and header map types.
const (
	bufferPluginConfiguration = 7
	mapRequestHeaders         = 0
	mapResponseHeaders        = 2
	metricCounter             = 0
)

// Where the host writes a returned value's address and size. Package
// variables: as locals they would escape to the heap (a wasmimport's pointer
// arguments do), an allocation per call.
var (
	retAddr uint32
	retSize int32
)

// returned is the value the host just wrote through the allocator.
func returned() ([]byte, Status) {
	b, ok := values.view(retAddr, retSize)
	if !ok {
		return nil, Status(10) // InternalFailure: not the allocator's buffer
	}
	return b, StatusOK
}

// Log writes msg to the host's log at level.
func Log(level LogLevel, msg string) {
	proxyLog(level, unsafe.StringData(msg), int32(len(msg)))
}

// pluginConfiguration reads the plugin's configuration: nil when there is
// none (Istio hands an absent pluginConfig over as none at all, and some
// hosts answer NotFound for an empty one). It is a copy: plugins keep it.
func pluginConfiguration(size int32) ([]byte, Status) {
	if size <= 0 {
		return nil, StatusOK
	}
	st := proxyGetBufferBytes(bufferPluginConfiguration, 0, size, &retAddr, &retSize)
	if st == StatusNotFound {
		return nil, StatusOK
	}
	if st != StatusOK {
		return nil, st
	}
	b, st := returned()
	return append([]byte(nil), b...), st
}

// RequestHeader returns the current request's header name (the host matches
// names case-insensitively and returns the first of repeated values). The
// string views the host's copy: it is valid until the next host call that
// returns a value, so use it or copy it before then.
func RequestHeader(name string) (string, bool) {
	if proxyGetHeaderMapValue(mapRequestHeaders, unsafe.StringData(name), int32(len(name)), &retAddr, &retSize) != StatusOK {
		return "", false
	}
	b, st := returned()
	if st != StatusOK {
		return "", false
	}
	return unsafe.String(unsafe.SliceData(b), len(b)), true
}

// AddResponseHeader adds a header to the current response, beside any of
// the same name.
func AddResponseHeader(name, value string) Status {
	return proxyAddHeaderMapValue(mapResponseHeaders, unsafe.StringData(name), int32(len(name)),
		unsafe.StringData(value), int32(len(value)))
}

// SendLocalResponse answers the current request from here, with headers
// laid out by internal/headermap. The request must then stay paused.
func SendLocalResponse(status uint32, headers, body []byte) Status {
	return proxySendLocalResponse(status, nil, 0, unsafe.SliceData(body), int32(len(body)),
		unsafe.SliceData(headers), int32(len(headers)), -1)
}

// Counter is a counter metric the host defined; Envoy shows it in /stats
// as wasmcustom.<name>.
type Counter uint32

// DefineCounter defines a counter. It panics if the host refuses, as the
// SDK's DefineCounterMetric does: a plugin defines its counters at start.
func DefineCounter(name string) Counter {
	var id uint32
	if st := proxyDefineMetric(metricCounter, unsafe.StringData(name), int32(len(name)), &id); st != StatusOK {
		panic("define metric " + name + ": " + st.String())
	}
	return Counter(id)
}

// Increment adds one. It panics if the host refuses, as the SDK's does.
func (c Counter) Increment() {
	if st := proxyIncrementMetric(uint32(c), 1); st != StatusOK {
		panic("increment metric " + strconv.FormatUint(uint64(c), 10) + ": " + st.String())
	}
}
