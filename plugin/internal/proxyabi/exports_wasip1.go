package proxyabi

// The callbacks the host calls (proxy-wasm ABI 0.2). build.sh keeps only
// those a plugin's exports.txt lists: Envoy enters the module for every
// callback it exports, on every request.

//go:wasmexport proxy_abi_version_0_2_0
func proxyABIVersion() {}

//go:wasmexport proxy_on_memory_allocate
func proxyOnMemoryAllocate(size uint32) *byte {
	return values.alloc(size)
}

// proxy_on_vm_start: the plugins have no VM configuration to read.
//
//go:wasmexport proxy_on_vm_start
func proxyOnVMStart(uint32, int32) bool {
	return true
}

//go:wasmexport proxy_on_configure
func proxyOnConfigure(id uint32, size int32) bool {
	config, st := pluginConfiguration(size)
	if st != StatusOK {
		logLine(LogCritical, "cannot read the plugin configuration: "+st.String()+"; refusing to start")
		return false
	}
	return state.configure(id, config)
}

//go:wasmexport proxy_on_context_create
func proxyOnContextCreate(id, parent uint32) {
	state.contextCreated(id, parent)
}

//go:wasmexport proxy_on_request_headers
func proxyOnRequestHeaders(id uint32, _ int32, _ bool) Action {
	return state.requestHeaders(id)
}

//go:wasmexport proxy_on_response_headers
func proxyOnResponseHeaders(id uint32, _ int32, _ bool) Action {
	return state.responseHeaders(id)
}

//go:wasmexport proxy_on_delete
func proxyOnDelete(id uint32) {
	state.deleted(id)
}
