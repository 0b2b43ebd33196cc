package main

// build.sh keeps only the exports listed in exports.txt, so that Envoy skips
// the callbacks this plugin leaves to the SDK's defaults. These tests hold the
// module to that list, and the plugin to implementing none of the callbacks
// the list leaves out (a callback whose export is gone would never be called).

import (
	"bufio"
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
)

// droppedCallbacks maps each SDK export that exports.txt may leave out to what
// in the plugin would need it: the SDK methods that the host reaches only
// through that export, and the proxywasm functions that make the host call it.
var droppedCallbacks = map[string][]string{
	"proxy_on_request_body":                {"OnHttpRequestBody"},
	"proxy_on_request_trailers":            {"OnHttpRequestTrailers"},
	"proxy_on_response_headers":            {"OnHttpResponseHeaders"},
	"proxy_on_response_body":               {"OnHttpResponseBody"},
	"proxy_on_response_trailers":           {"OnHttpResponseTrailers"},
	"proxy_on_log":                         {"OnHttpStreamDone", "OnStreamDone"},
	"proxy_on_done":                        {"OnPluginDone"},
	"proxy_on_tick":                        {"OnTick", "SetTickPeriodMilliSeconds"},
	"proxy_on_queue_ready":                 {"OnQueueReady", "RegisterSharedQueue", "ResolveSharedQueue"},
	"proxy_on_http_call_response":          {"DispatchHttpCall"},
	"proxy_on_new_connection":              {"NewTcpContext", "OnNewConnection"},
	"proxy_on_downstream_data":             {"OnDownstreamData"},
	"proxy_on_downstream_connection_close": {"OnDownstreamClose"},
	"proxy_on_upstream_data":               {"OnUpstreamData"},
	"proxy_on_upstream_connection_close":   {"OnUpstreamClose"},
}

func keptExports(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("exports.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		line, _, _ := strings.Cut(s.Text(), "#")
		if line = strings.TrimSpace(line); line != "" {
			names = append(names, line)
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}

// moduleExports lists what the compiled module exports (functions and memory).
func moduleExports(t *testing.T, wasm []byte) []string {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	m, err := r.CompileModule(ctx, wasm)
	if err != nil {
		t.Fatalf("compile %s: %v", wasmPath(), err)
	}
	var names []string
	for name := range m.ExportedFunctions() {
		names = append(names, name)
	}
	for name := range m.ExportedMemories() {
		names = append(names, name)
	}
	return names
}

func TestModuleExportsExactlyTheListedCallbacks(t *testing.T) {
	wasm, err := os.ReadFile(wasmPath())
	if err != nil {
		t.Fatalf("%v (build the module first: ./build.sh)", err)
	}
	got, want := moduleExports(t, wasm), keptExports(t)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s exports %q, want exactly exports.txt's %q", wasmPath(), got, want)
	}
}

func TestPluginImplementsNoDroppedCallback(t *testing.T) {
	kept := keptExports(t)
	needs := map[string]string{} // method or function name -> the export it needs
	for export, names := range droppedCallbacks {
		if slices.Contains(kept, export) {
			continue
		}
		for _, n := range names {
			needs[n] = export
		}
	}
	fset := token.NewFileSet()
	paths, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, path := range paths {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			var name string
			switch n := n.(type) {
			case *ast.FuncDecl: // a method the host would call
				if n.Recv != nil {
					name = n.Name.Name
				}
			case *ast.SelectorExpr: // proxywasm.DispatchHttpCall and the like
				name = n.Sel.Name
			}
			if export, ok := needs[name]; ok {
				t.Errorf("%s: %s needs the export %s, which exports.txt leaves out: add it there",
					fset.Position(n.Pos()), name, export)
			}
			return true
		})
	}
}
