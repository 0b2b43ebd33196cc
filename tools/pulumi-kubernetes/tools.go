//go:build tools

// Package tools records the provider command so that `go mod tidy` keeps its
// dependency graph in go.mod/go.sum.
package tools

import _ "github.com/pulumi/pulumi-kubernetes/provider/v4/cmd/pulumi-resource-kubernetes"
