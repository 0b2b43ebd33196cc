package main

import (
	"strings"
	"testing"
)

const bundle = `# comment
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: a.example.io
spec:
  group: example.io
---
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: wasmplugins.extensions.istio.io
spec:
  group: extensions.istio.io
  versions:
  - name: v1alpha1
    served: true
`

func TestFindCRDSelectsByName(t *testing.T) {
	crd, err := findCRD([]byte(bundle), "wasmplugins.extensions.istio.io")
	if err != nil {
		t.Fatal(err)
	}
	spec := crd["spec"].(map[string]any)
	if spec["group"] != "extensions.istio.io" {
		t.Fatalf("group = %v", spec["group"])
	}
	versions := spec["versions"].([]any)
	if served := versions[0].(map[string]any)["served"]; served != true {
		t.Fatalf("served = %#v, want true", served)
	}
}

func TestFindCRDMissingNamesWhatExists(t *testing.T) {
	_, err := findCRD([]byte(bundle), "nope.example.io")
	if err == nil || !strings.Contains(err.Error(), "a.example.io, wasmplugins.extensions.istio.io") {
		t.Fatalf("err = %v", err)
	}
}

func TestFindCRDRejectsDuplicates(t *testing.T) {
	_, err := findCRD([]byte(bundle+"---\n"+bundle), "a.example.io")
	if err == nil || !strings.Contains(err.Error(), "more than once") {
		t.Fatalf("err = %v", err)
	}
}

func TestAllCRDsKeepsBundleOrderAndSkipsOtherDocuments(t *testing.T) {
	crds, err := allCRDs([]byte(bundle + "---\nkind: ConfigMap\nmetadata:\n  name: not-a-crd\n"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, crd := range crds {
		names = append(names, crdName(crd))
	}
	if got := strings.Join(names, ","); got != "a.example.io,wasmplugins.extensions.istio.io" {
		t.Fatalf("names = %s", got)
	}
}
