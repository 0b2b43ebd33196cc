// Command istio-crd prints one CustomResourceDefinition, as JSON, from the CRD
// bundle that ships in the istio.io/api module
// (kubernetes/customresourcedefinitions.gen.yaml); with -all, every CRD of the
// bundle as one JSON array (what istiod watches, for the mesh sandbox).
//
//	istio-crd -bundle FILE [-name wasmplugins.extensions.istio.io | -all] [-o OUT]
//
// JSON is what the API server takes as a request body, and what a client
// without a YAML parser can read.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

func main() {
	bundle := flag.String("bundle", "", "path to the CRD bundle (multi-document YAML)")
	name := flag.String("name", "wasmplugins.extensions.istio.io", "metadata.name of the CRD to print")
	all := flag.Bool("all", false, "print every CRD of the bundle as a JSON array (instead of -name)")
	out := flag.String("o", "-", "output file, - for stdout")
	flag.Parse()
	if *bundle == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: istio-crd -bundle FILE [-name NAME | -all] [-o OUT]")
		os.Exit(2)
	}
	if err := run(*bundle, *name, *all, *out); err != nil {
		fmt.Fprintf(os.Stderr, "istio-crd: %v\n", err)
		os.Exit(1)
	}
}

func run(bundlePath, name string, all bool, outPath string) error {
	data, err := os.ReadFile(bundlePath)
	if err != nil {
		return err
	}
	var selected any
	if all {
		selected, err = allCRDs(data)
	} else {
		selected, err = findCRD(data, name)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", bundlePath, err)
	}
	encoded, err := json.MarshalIndent(selected, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the CRDs of %s as JSON: %w", bundlePath, err)
	}
	encoded = append(encoded, '\n')
	if outPath == "-" {
		_, err = os.Stdout.Write(encoded)
		return err
	}
	return os.WriteFile(outPath, encoded, 0o644)
}

// allCRDs returns the CustomResourceDefinitions of a multi-document YAML
// stream, in bundle order; other documents are skipped.
func allCRDs(data []byte) ([]map[string]any, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var crds []map[string]any
	for i := 0; ; i++ {
		var doc map[string]any
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				return crds, nil
			}
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if doc != nil && doc["kind"] == "CustomResourceDefinition" {
			crds = append(crds, doc)
		}
	}
}

// crdName is metadata.name of a decoded CRD ("" when absent).
func crdName(crd map[string]any) string {
	meta, _ := crd["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	return name
}

// findCRD returns the one CustomResourceDefinition named name in a
// multi-document YAML stream.
func findCRD(data []byte, name string) (map[string]any, error) {
	crds, err := allCRDs(data)
	if err != nil {
		return nil, err
	}
	var found map[string]any
	var names []string
	for _, crd := range crds {
		names = append(names, crdName(crd))
		if crdName(crd) != name {
			continue
		}
		if found != nil {
			return nil, fmt.Errorf("CRD %q appears more than once", name)
		}
		found = crd
	}
	if found == nil {
		sort.Strings(names)
		return nil, fmt.Errorf("no CRD named %q; the bundle has: %s", name, strings.Join(names, ", "))
	}
	return found, nil
}
