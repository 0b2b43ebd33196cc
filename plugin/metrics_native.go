//go:build !wasip1

package main

import "github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"

// Natively, that is in the "go" runs of main_test.go, the counters go
// through the SDK, which hands them to its proxytest emulator; the module
// binds them itself (metrics_wasip1.go says why).

type counter proxywasm.MetricCounter

func defineCounter(name string) counter { return counter(proxywasm.DefineCounterMetric(name)) }

func (c counter) increment() { proxywasm.MetricCounter(c).Increment(1) }
