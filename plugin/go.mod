module asmwasm.local/plugin

go 1.24.0

toolchain go1.26.8

require github.com/proxy-wasm/proxy-wasm-go-sdk v0.0.0-20260105142703-44c7d5847745

require github.com/tetratelabs/wazero v1.7.2
