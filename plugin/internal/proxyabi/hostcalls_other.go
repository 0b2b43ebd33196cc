//go:build !wasip1

package proxyabi

// Outside a wasip1 module there is no host: the plugins' packages still
// compile natively (their tests run the compiled module in wazero), and
// these fail loudly if anything calls them.

func noHost() { panic("proxyabi: host calls exist only in the wasip1 module") }

// Log is the module's host call; see hostcalls_wasip1.go.
func Log(LogLevel, string) { noHost() }

// RequestHeader is the module's host call; see hostcalls_wasip1.go.
func RequestHeader(string) (string, bool) { noHost(); return "", false }

// AddResponseHeader is the module's host call; see hostcalls_wasip1.go.
func AddResponseHeader(string, string) Status { noHost(); return 0 }

// SendLocalResponse is the module's host call; see hostcalls_wasip1.go.
func SendLocalResponse(uint32, []byte, []byte) Status { noHost(); return 0 }

// Counter is a counter metric; see hostcalls_wasip1.go.
type Counter uint32

// DefineCounter is the module's host call; see hostcalls_wasip1.go.
func DefineCounter(string) Counter { noHost(); return 0 }

// Increment is the module's host call; see hostcalls_wasip1.go.
func (Counter) Increment() { noHost() }
