"""The local cloud: registry, Kubernetes API server, Pulumi engine and Envoy on loopback."""
