// Command istio-crd prints one CustomResourceDefinition, as JSON, from the CRD
// bundle that ships in the istio.io/api module
// (kubernetes/customresourcedefinitions.gen.yaml).
//
//	istio-crd -bundle FILE [-name wasmplugins.extensions.istio.io] [-o OUT]
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
	out := flag.String("o", "-", "output file, - for stdout")
	flag.Parse()
	if *bundle == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: istio-crd -bundle FILE [-name NAME] [-o OUT]")
		os.Exit(2)
	}
	if err := run(*bundle, *name, *out); err != nil {
		fmt.Fprintf(os.Stderr, "istio-crd: %v\n", err)
		os.Exit(1)
	}
}

func run(bundlePath, name, outPath string) error {
	data, err := os.ReadFile(bundlePath)
	if err != nil {
		return err
	}
	crd, err := findCRD(data, name)
	if err != nil {
		return fmt.Errorf("%s: %w", bundlePath, err)
	}
	encoded, err := json.MarshalIndent(crd, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s as JSON: %w", name, err)
	}
	encoded = append(encoded, '\n')
	if outPath == "-" {
		_, err = os.Stdout.Write(encoded)
		return err
	}
	return os.WriteFile(outPath, encoded, 0o644)
}

// findCRD returns the one CustomResourceDefinition named name in a
// multi-document YAML stream.
func findCRD(data []byte, name string) (map[string]any, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var found map[string]any
	var names []string
	for i := 0; ; i++ {
		var doc map[string]any
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if doc == nil || doc["kind"] != "CustomResourceDefinition" {
			continue
		}
		meta, _ := doc["metadata"].(map[string]any)
		docName, _ := meta["name"].(string)
		names = append(names, docName)
		if docName != name {
			continue
		}
		if found != nil {
			return nil, fmt.Errorf("CRD %q appears more than once", name)
		}
		found = doc
	}
	if found == nil {
		sort.Strings(names)
		return nil, fmt.Errorf("no CRD named %q; the bundle has: %s", name, strings.Join(names, ", "))
	}
	return found, nil
}
