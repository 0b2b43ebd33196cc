// Package moduletest is what both plugins' tests do with their compiled
// module: load it under the SDK's emulator (Load), and hold it to the
// exports.txt that build.sh trims it to (CheckExports): the module exports
// exactly that list, the plugin's code implements no callback whose export
// the list leaves out (Envoy calls a callback only when the module exports
// it), and fmt's printer stays out of the module.
//
// Only the plugins' tests import it, so neither it nor wazero reaches a
// module.
package moduletest

import (
	"bufio"
	"bytes"
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

// droppedCallbacks maps each callback export that exports.txt may leave out
// to the internal/proxyabi method a plugin implements to be called through it.
var droppedCallbacks = map[string][]string{
	"proxy_on_request_headers":  {"OnRequestHeaders"},
	"proxy_on_response_headers": {"OnResponseHeaders"},
}

// CheckExports runs CheckModule, CheckSources (on dir) and CheckNoFmt as
// subtests of t.
func CheckExports(t *testing.T, wasmPath, listPath, dir string) {
	t.Run("exactly the listed exports", func(t *testing.T) { CheckModule(t, wasmPath, listPath) })
	t.Run("no dropped callback implemented", func(t *testing.T) { CheckSources(t, dir, listPath) })
	t.Run("no fmt", func(t *testing.T) { CheckNoFmt(t, wasmPath) })
}

// List reads an exports.txt: one name a line, # starts a comment.
func List(t testing.TB, path string) []string {
	t.Helper()
	f, err := os.Open(path)
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

// Module lists what a compiled module exports (functions and memory).
func Module(t testing.TB, wasm []byte) []string {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	m, err := r.CompileModule(ctx, wasm)
	if err != nil {
		t.Fatalf("compile the module: %v", err)
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

// CheckModule fails t unless the module at wasmPath exports exactly the
// names in the exports.txt at listPath.
func CheckModule(t testing.TB, wasmPath, listPath string) {
	t.Helper()
	wasm, err := os.ReadFile(wasmPath)
	if err != nil {
		t.Fatalf("%v (build the module first: plugin/build.sh)", err)
	}
	got, want := Module(t, wasm), List(t, listPath)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s exports %q, want exactly %s's %q", wasmPath, got, listPath, want)
	}
}

// fmtPrinter is a function that every use of fmt's formatting links
// (Sprintf, Errorf, ...). Go's own function
// table, in the module's data, names every Go function the module holds,
// with or without a wasm name section, so a match means fmt came back.
const fmtPrinter = "fmt.(*pp).doPrintf"

// CheckNoFmt fails t if the module at wasmPath links fmt's formatting,
// which costs about 0.3 MB of the module, most of it code that Envoy
// compiles on every rollout (docs/benchmarks.md, "Issue #15 item 3"). Build
// log lines and errors by concatenation and strconv instead.
func CheckNoFmt(t testing.TB, wasmPath string) {
	t.Helper()
	wasm, err := os.ReadFile(wasmPath)
	if err != nil {
		t.Fatalf("%v (build the module first: plugin/build.sh)", err)
	}
	if bytes.Contains(wasm, []byte(fmtPrinter)) {
		t.Errorf("%s links fmt's printer (%s): something calls fmt", wasmPath, fmtPrinter)
	}
}

// CheckSources fails t if a non-test Go file in dir implements a callback
// whose export the exports.txt at listPath leaves out.
func CheckSources(t testing.TB, dir, listPath string) {
	t.Helper()
	kept := List(t, listPath)
	needs := map[string]string{} // method or function name -> the export it needs
	for export, names := range droppedCallbacks {
		if slices.Contains(kept, export) {
			continue
		}
		for _, n := range names {
			needs[n] = export
		}
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, path := range paths {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			var name string
			switch n := n.(type) {
			case *ast.FuncDecl: // a method the host would call
				if n.Recv != nil {
					name = n.Name.Name
				}
			}
			if export, ok := needs[name]; ok {
				t.Errorf("%s: %s needs the export %s, which %s leaves out: add it there",
					fset.Position(n.Pos()), name, export, listPath)
			}
			return true
		})
	}
}
