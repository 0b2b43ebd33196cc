// Package headermap lays out header pairs as the proxy-wasm ABI takes them
// (proxy_send_local_response, proxy_set_header_map_pairs): pure Go, shared
// by internal/proxyabi's users and the raw-ABI benchmark build, which cannot
// import proxyabi (its exports would clash with the benchmark's own).
package headermap

// Serialize lays headers out as proxy-wasm's header map: the number of
// pairs, each name's and value's length (32-bit little endian), then each
// name and value followed by a NUL. A plugin serialises its reply's headers
// once, at start, and passes them on every reply.
func Serialize(headers [][2]string) []byte {
	size := 4
	for _, h := range headers {
		size += 8 + len(h[0]) + 1 + len(h[1]) + 1
	}
	b := make([]byte, 0, size)
	b = appendUint32(b, uint32(len(headers)))
	for _, h := range headers {
		b = appendUint32(b, uint32(len(h[0])))
		b = appendUint32(b, uint32(len(h[1])))
	}
	for _, h := range headers {
		b = append(b, h[0]...)
		b = append(b, 0)
		b = append(b, h[1]...)
		b = append(b, 0)
	}
	return b
}

// appendUint32 appends v little endian (encoding/binary would link reflect).
func appendUint32(b []byte, v uint32) []byte {
	return append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
}
