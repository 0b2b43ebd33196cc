// A measurement build, not shipped: the plugin on the raw proxy-wasm ABI, to
// measure what proxy-wasm-go-sdk costs per request (README.md). Its module
// path sits under asmwasm.local/plugin so that it may import the real plugin's
// internal/headerauth, through the replace below.
module asmwasm.local/plugin/rawabi

go 1.24.0

toolchain go1.26.8

require asmwasm.local/plugin v0.0.0

// The configuration parser and the decision are the real plugin's, unchanged.
replace asmwasm.local/plugin => ../../plugin
