"""ComponentResources that deliver a proxy-wasm plugin to Alibaba Cloud Service Mesh."""
