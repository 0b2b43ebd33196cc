// Pins the istio.io/api release whose CRDs the sandbox installs, and holds
// the program that extracts one CRD from that module's CRD bundle.
//
// v1.31.0: the release that istiod in tools/istio is built against (its
// bundle is byte for byte the one at istio.io/istio's pinned api commit), so
// the CRDs match the control plane that reads them. Its WasmPlugin CRD is the
// same as in v1.28.0, v1.30.8 and v1.32.0 (compared as JSON), so it also
// stands for the Istio releases a managed mesh runs today.
module asmwasm.local/tools/istio-crd

go 1.26.0

require (
	go.yaml.in/yaml/v3 v3.0.6
	istio.io/api v1.31.0
)

require (
	github.com/golang/protobuf v1.5.4 // indirect
	google.golang.org/genproto/googleapis/api v0.0.0-20251213004720-97cd9d5aeac2 // indirect
	google.golang.org/protobuf v1.36.11 // indirect
)
