package proxyabi

import "unsafe"

// maxArena bounds the buffer the allocator reuses; a bigger value (a huge
// header, a huge configuration) gets a buffer of its own, dropped at the
// next allocation.
const maxArena = 4096

// arena is where the host copies the values it returns (proxy-wasm's
// proxy_on_memory_allocate). Every such value is read, or copied, before the
// next host call that returns one, so one buffer serves them all and a
// header read allocates nothing.
type arena struct {
	buf []byte
	big []byte
}

var values arena

// alloc hands the host size bytes. Never nil: a zero-size value still gets
// a valid address.
func (a *arena) alloc(size uint32) *byte {
	if size > maxArena {
		a.big = make([]byte, size)
		return &a.big[0]
	}
	a.big = nil
	if a.buf == nil {
		a.buf = make([]byte, maxArena)
	}
	return &a.buf[0]
}

// view returns the n bytes the host wrote at addr, which must be the
// address alloc handed out last; ok is false for anything else (and n == 0
// is an empty value wherever it points). The bytes are valid until the next
// host call that returns a value.
func (a *arena) view(addr uint32, n int32) (b []byte, ok bool) {
	if n == 0 {
		return nil, true
	}
	for _, buf := range [2][]byte{a.buf, a.big} {
		if len(buf) > 0 && addr == addrOf(&buf[0]) && n > 0 && int(n) <= len(buf) {
			return buf[:n:n], true
		}
	}
	return nil, false
}

// addrOf is p as the module's 32-bit memory address, as the host writes it.
func addrOf(p *byte) uint32 {
	return uint32(uintptr(unsafe.Pointer(p)))
}
