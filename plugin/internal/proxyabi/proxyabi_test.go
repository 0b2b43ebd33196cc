package proxyabi

import (
	"strings"
	"testing"
)

// recorder stands in for the host calls the dispatch makes itself.
type recorder struct {
	logs    []string
	replies []uint32
}

func record(t *testing.T) *recorder {
	r := &recorder{}
	prevLog, prevReply := logLine, sendReply
	logLine = func(_ LogLevel, msg string) { r.logs = append(r.logs, msg) }
	sendReply = func(status uint32, _, _ []byte) Status { r.replies = append(r.replies, status); return StatusOK }
	t.Cleanup(func() { logLine, sendReply = prevLog, prevReply })
	return r
}

// fake is a plugin context that counts what reached it.
type fake struct {
	name               string
	config             []byte
	requests, response int
}

func (f *fake) Configure(config []byte) bool { f.config = config; return f.name != "refuses" }
func (f *fake) OnRequestHeaders() Action     { f.requests++; return Pause }
func (f *fake) OnResponseHeaders() Action    { f.response++; return Continue }

// requestOnly acts on request headers only.
type requestOnly struct{ requests int }

func (r *requestOnly) Configure([]byte) bool    { return true }
func (r *requestOnly) OnRequestHeaders() Action { r.requests++; return Pause }

func newState(made *[]*fake) *vmState {
	names := []string{"a", "b", "refuses"}
	s := newVMState()
	s.newPlugin = func() Plugin {
		f := &fake{name: names[len(*made)%len(names)]}
		*made = append(*made, f)
		return f
	}
	return &s
}

// Envoy numbers plugin contexts and streams from one counter, and may
// interleave streams of two plugin contexts sharing a VM: each stream's
// callbacks reach the plugin context it was created for.
func TestStreamsReachTheirPluginContext(t *testing.T) {
	rec := record(t)
	var made []*fake
	s := newState(&made)
	s.contextCreated(1, 0)
	s.contextCreated(2, 0)
	if !s.configure(1, []byte("one")) || !s.configure(2, nil) {
		t.Fatal("configure refused")
	}
	s.contextCreated(3, 1)
	s.contextCreated(4, 2)
	s.contextCreated(5, 1)
	for _, id := range []uint32{4, 3, 5} {
		if a := s.requestHeaders(id); a != Pause {
			t.Errorf("requestHeaders(%d) = %d, want the plugin's Pause", id, a)
		}
	}
	s.responseHeaders(3)
	if made[0].requests != 2 || made[1].requests != 1 || made[0].response != 1 || made[1].response != 0 {
		t.Errorf("requests a=%d b=%d, responses a=%d b=%d; want 2 1 1 0",
			made[0].requests, made[1].requests, made[0].response, made[1].response)
	}
	if string(made[0].config) != "one" || made[1].config != nil {
		t.Errorf("configurations %q %q", made[0].config, made[1].config)
	}
	for _, id := range []uint32{3, 4, 5} {
		s.deleted(id)
	}
	if len(s.streams) != 0 || len(s.plugins) != 2 {
		t.Errorf("after the streams ended: %d streams, %d plugin contexts; want 0 and 2", len(s.streams), len(s.plugins))
	}
	s.deleted(1)
	if s.plugin(1) != nil || len(s.plugins) != 1 {
		t.Errorf("plugin context 1 still held after proxy_on_delete")
	}
	if len(rec.logs) != 0 || len(rec.replies) != 0 {
		t.Errorf("logs %q replies %v, want none", rec.logs, rec.replies)
	}
}

// A plugin that acts on request headers only gets no map entry per stream:
// Envoy creates each stream right before its request headers. Out of that
// order a stream is still placed when the VM has one plugin context, and
// refused when it has several.
func TestRequestOnlyStreamsNeedNoMap(t *testing.T) {
	rec := record(t)
	var made []*requestOnly
	s := newVMState()
	s.newPlugin = func() Plugin { r := &requestOnly{}; made = append(made, r); return r }
	s.contextCreated(1, 0)
	s.contextCreated(2, 1)
	s.contextCreated(3, 1)
	if a := s.requestHeaders(2); a != Pause || made[0].requests != 1 {
		t.Errorf("one plugin context, out of order: action %d, %d requests", a, made[0].requests)
	}
	s.contextCreated(4, 0)
	for id, root := range map[uint32]int{5: 0, 6: 1} {
		s.contextCreated(id, []uint32{1, 4}[root])
		if a := s.requestHeaders(id); a != Pause {
			t.Errorf("requestHeaders(%d) = %d", id, a)
		}
	}
	if made[0].requests != 2 || made[1].requests != 1 {
		t.Errorf("requests %d %d, want 2 1", made[0].requests, made[1].requests)
	}
	if len(s.streams) != 0 {
		t.Errorf("%d stream entries for request-only plugins, want none", len(s.streams))
	}
	if len(rec.replies) != 0 {
		t.Errorf("replies %v, want none", rec.replies)
	}
	s.contextCreated(7, 1)
	s.contextCreated(8, 4)
	if a := s.requestHeaders(7); a != Pause || len(rec.replies) != 1 || rec.replies[0] != unknownStreamStatus {
		t.Errorf("two plugin contexts, out of order: action %d, replies %v; want the %d refusal",
			a, rec.replies, unknownStreamStatus)
	}
	s.deleted(4)
	if len(s.plugins) != 1 || s.plugins[0].plugin != made[0] {
		t.Error("after plugin context 4 went, plugin context 1 is not the only one")
	}
	if a := s.requestHeaders(7); a != Pause || made[0].requests != 3 {
		t.Errorf("one plugin context again: action %d, %d requests", a, made[0].requests)
	}
}

// A request of a stream whose plugin context the VM never created is
// refused, never let through, however many plugin contexts there are; its
// response goes on (the request was refused).
func TestUnknownStreamIsRefused(t *testing.T) {
	rec := record(t)
	var made []*fake
	s := newState(&made)
	s.contextCreated(1, 0)
	s.contextCreated(2, 7) // a plugin context the VM never saw
	if a := s.requestHeaders(2); a != Pause {
		t.Errorf("requestHeaders(2) = %d, want Pause", a)
	}
	if a := s.responseHeaders(2); a != Continue {
		t.Errorf("responseHeaders(2) = %d, want Continue", a)
	}
	if len(rec.replies) != 1 || rec.replies[0] != unknownStreamStatus || made[0].requests != 0 {
		t.Errorf("replies %v, %d requests reached the plugin; want one %d and none",
			rec.replies, made[0].requests, unknownStreamStatus)
	}
	if len(rec.logs) != 3 || !strings.Contains(rec.logs[0], "unknown plugin context 7") ||
		!strings.Contains(rec.logs[1], "stream 2 has no plugin context") {
		t.Errorf("logs %q", rec.logs)
	}
	s.deleted(2)
	s.deleted(9) // unknown ids are no error
	if len(s.streams) != 0 {
		t.Errorf("orphans %v after proxy_on_delete", s.streams)
	}
	if s.configure(5, nil) {
		t.Error("configure of an unknown plugin context succeeded")
	}
}

// A plugin that acts on one side only leaves the other side alone.
func TestOneSidedPlugin(t *testing.T) {
	record(t)
	p := &requestOnly{}
	s := newVMState()
	s.newPlugin = func() Plugin { return p }
	s.contextCreated(1, 0)
	s.contextCreated(2, 1)
	if a := s.responseHeaders(2); a != Continue {
		t.Errorf("responseHeaders = %d, want Continue", a)
	}
	if a := s.requestHeaders(2); a != Pause || p.requests != 1 {
		t.Errorf("requestHeaders = %d after %d calls", a, p.requests)
	}
}

func TestRefusedConfiguration(t *testing.T) {
	record(t)
	var made []*fake
	s := newState(&made)
	for id := uint32(1); id <= 3; id++ {
		s.contextCreated(id, 0)
	}
	if s.configure(3, nil) {
		t.Error("the plugin refused, configure said it started")
	}
}

func TestMissingSetNewPluginPanics(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "SetNewPlugin") {
			t.Errorf("recover() = %v, want a panic naming SetNewPlugin", r)
		}
	}()
	s := newVMState()
	s.contextCreated(1, 0)
}

func TestArenaReusesOneBuffer(t *testing.T) {
	var a arena
	p1 := a.alloc(4)
	copy(a.buf, "true")
	b, ok := a.view(addrOf(p1), 4)
	if !ok || string(b) != "true" || cap(b) != 4 {
		t.Fatalf("view = %q, %v (cap %d)", b, ok, cap(b))
	}
	if p2 := a.alloc(maxArena); p2 != p1 {
		t.Error("a second value got a new buffer")
	}
	if n := testing.AllocsPerRun(100, func() { a.alloc(100) }); n != 0 {
		t.Errorf("alloc allocates %v times per value, want 0", n)
	}
	big := a.alloc(maxArena + 1)
	if big == p1 {
		t.Fatal("an oversized value got the shared buffer")
	}
	if b, ok := a.view(addrOf(big), maxArena+1); !ok || len(b) != maxArena+1 {
		t.Errorf("view of the oversized value: len %d, %v", len(b), ok)
	}
	if _, ok := a.view(addrOf(p1)+1, 4); ok {
		t.Error("view accepted an address the allocator never handed out")
	}
	if _, ok := a.view(addrOf(p1), maxArena+1); ok {
		t.Error("view accepted a size beyond the buffer")
	}
	if b, ok := a.view(0, 0); !ok || len(b) != 0 {
		t.Error("an empty value is no error")
	}
	if p := a.alloc(0); p == nil {
		t.Error("alloc(0) = nil")
	}
}

func TestStatusNames(t *testing.T) {
	if s := StatusNotFound.String(); s != "NotFound" {
		t.Errorf("NotFound = %q", s)
	}
	if s := Status(12).String(); s != "Unimplemented" {
		t.Errorf("12 = %q", s)
	}
	if s := Status(99).String(); s != "status 99" {
		t.Errorf("99 = %q", s)
	}
}
