//go:build tools

// Package tools pins the pilot-discovery (istiod) and pilot-agent main
// packages so `go mod tidy` keeps their dependencies in go.mod and go.sum.
package tools

import (
	_ "istio.io/istio/pilot/cmd/pilot-agent"
	_ "istio.io/istio/pilot/cmd/pilot-discovery"
)
