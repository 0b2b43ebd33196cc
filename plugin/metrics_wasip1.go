package main

// The plugin's two counters, bound to the host here instead of through the
// SDK's proxywasm.DefineCounterMetric and MetricCounter.Increment: those
// build their panic messages with fmt.Sprintf, and that call alone links
// fmt's printer and reflect into the module: 0.31 MB (11.7 %), 0.2 MB of it
// code that Envoy's V8 compiles on every rollout (docs/benchmarks.md,
// "Issue #15 item 3").
// These are the same two imports with the same arguments as the SDK's
// (proxy-wasm ABI 0.2.1), and they panic where the SDK's do. The "wasm" runs
// of main_test.go (the emulator's host functions) and tests/envoy (Envoy's
// /stats) check them; natively, metrics_native.go goes through the SDK.

import (
	"strconv"
	"unsafe"
)

//go:wasmimport env proxy_define_metric
func proxyDefineMetric(metricType uint32, name *byte, nameSize int32, returnID *uint32) uint32

//go:wasmimport env proxy_increment_metric
func proxyIncrementMetric(id uint32, offset int64) uint32

const (
	metricTypeCounter = 0 // proxy-wasm MetricType Counter
	statusOK          = 0 // proxy-wasm Status Ok
)

// counter is a counter metric the host defined.
type counter uint32

// defineCounter defines the counter name. Like the SDK's
// DefineCounterMetric it panics if the host refuses (the status as a number:
// the SDK's names for statuses are in its internal package).
func defineCounter(name string) counter {
	var id uint32
	if st := proxyDefineMetric(metricTypeCounter, unsafe.StringData(name), int32(len(name)), &id); st != statusOK {
		panic("define metric of name " + name + ": status " + strconv.FormatUint(uint64(st), 10))
	}
	return counter(id)
}

// increment adds one. Like the SDK's MetricCounter.Increment it panics if
// the host refuses.
func (c counter) increment() {
	if st := proxyIncrementMetric(uint32(c), 1); st != statusOK {
		panic("increment " + strconv.FormatUint(uint64(c), 10) + " by 1: status " + strconv.FormatUint(uint64(st), 10))
	}
}
