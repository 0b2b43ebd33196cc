//go:build tools

// Package tools keeps istio.io/api in go.mod and go.sum: the sandbox reads
// kubernetes/customresourcedefinitions.gen.yaml from this module's zip.
package tools

import _ "istio.io/api/extensions/v1alpha1"
