package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Names fixed by the Wasm image formats that Istio's agent reads
// (istio pkg/wasm/imagefetcher.go).
const (
	pluginFileName                 = "plugin.wasm"
	wasmLayerType  types.MediaType = "application/vnd.module.wasm.content.layer.v1+wasm"
	wasmConfigType types.MediaType = "application/vnd.module.wasm.config.v1+json"
)

// Image formats ocitool can push.
const (
	formatDocker   = "docker"   // what `docker build` pushes: Docker v2 schema 2, gzip tar layer
	formatOCI      = "oci"      // the same as an OCI image manifest
	formatArtifact = "artifact" // OCI manifest with a raw application/vnd.module.wasm.content.layer.v1+wasm layer
)

// epoch is every timestamp in the images we build: same wasm bytes, same digest.
var epoch = v1.Time{Time: time.Unix(0, 0).UTC()}

var wasmMagic = []byte("\x00asm")

// isWasm is the check Istio's agent makes on what it pulled.
func isWasm(b []byte) bool { return len(b) >= 8 && bytes.Equal(b[:4], wasmMagic) }

// pluginLayerBlob is the gzip'd tar that `ADD ./plugin.wasm ./plugin.wasm` onto
// scratch produces: one regular file at the root, owned by root, with fixed
// mode and times so that the blob depends on the wasm bytes only.
func pluginLayerBlob(wasm []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(zw)
	hdr := &tar.Header{
		Typeflag: tar.TypeReg, Name: pluginFileName, Mode: 0o644, Size: int64(len(wasm)),
		Uname: "root", Gname: "root", ModTime: epoch.Time, Format: tar.FormatUSTAR,
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, err
	}
	if _, err := tw.Write(wasm); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// buildImage returns the single-platform (linux/amd64) image holding wasm in
// the given format. No index and no attestations: the digest pushed is the
// manifest digest that Istio's agent compares.
func buildImage(wasm []byte, format string) (v1.Image, error) {
	cfg := &v1.ConfigFile{
		Architecture: "amd64", OS: "linux", Created: epoch,
		RootFS: v1.RootFS{Type: "layers"},
	}
	base, err := mutate.ConfigFile(empty.Image, cfg)
	if err != nil {
		return nil, err
	}
	history := v1.History{Created: epoch, CreatedBy: "ADD ./plugin.wasm ./plugin.wasm"}
	switch format {
	case formatDocker, formatOCI:
		blob, err := pluginLayerBlob(wasm)
		if err != nil {
			return nil, err
		}
		layerType := types.DockerLayer
		if format == formatOCI {
			layerType = types.OCILayer
		}
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(blob)), nil
		}, tarball.WithMediaType(layerType))
		if err != nil {
			return nil, err
		}
		img, err := mutate.Append(base, mutate.Addendum{Layer: layer, History: history})
		if err != nil || format == formatDocker {
			return img, err
		}
		return mutate.ConfigMediaType(mutate.MediaType(img, types.OCIManifestSchema1), types.OCIConfigJSON), nil
	case formatArtifact:
		// Istio wants exactly two layers, one of them the raw wasm.
		img, err := mutate.Append(base,
			mutate.Addendum{Layer: static.NewLayer(wasm, wasmLayerType), History: history},
			mutate.Addendum{Layer: static.NewLayer([]byte("{}"), wasmConfigType), History: v1.History{Created: epoch}})
		if err != nil {
			return nil, err
		}
		return mutate.ConfigMediaType(mutate.MediaType(img, types.OCIManifestSchema1), types.OCIConfigJSON), nil
	}
	return nil, fmt.Errorf("unknown --format %q (want %s, %s or %s)", format, formatDocker, formatOCI, formatArtifact)
}

// extractWasm gets the module out of img the way Istio's agent does: a Docker
// schema 2 image is read only as such; otherwise an OCI image whose last layer
// is a gzip tar holding plugin.wasm, else an OCI artifact of two layers, one of
// type application/vnd.module.wasm.content.layer.v1+wasm. It returns the
// module and the format it was found in.
func extractWasm(img v1.Image) ([]byte, string, error) {
	m, err := img.Manifest()
	if err != nil {
		return nil, "", fmt.Errorf("reading the manifest: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, "", fmt.Errorf("reading the layers: %w", err)
	}
	if m.MediaType == types.DockerManifestSchema2 {
		b, err := wasmFromLastLayer(layers, types.DockerLayer)
		if err != nil {
			return nil, "", fmt.Errorf("docker image: %w", err)
		}
		return b, formatDocker, nil
	}
	b, errOCI := wasmFromLastLayer(layers, types.OCILayer)
	if errOCI == nil {
		return b, formatOCI, nil
	}
	b, errArtifact := wasmFromArtifact(layers)
	if errArtifact == nil {
		return b, formatArtifact, nil
	}
	return nil, "", fmt.Errorf("not a Wasm image Istio can read: as an OCI image: %v; as an OCI artifact: %v", errOCI, errArtifact)
}

func wasmFromLastLayer(layers []v1.Layer, want types.MediaType) ([]byte, error) {
	if len(layers) == 0 {
		return nil, errors.New("the image has no layers")
	}
	last := layers[len(layers)-1]
	mt, err := last.MediaType()
	if err != nil {
		return nil, err
	}
	if mt != want {
		return nil, fmt.Errorf("last layer has media type %s, want %s", mt, want)
	}
	rc, err := last.Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	zr, err := gzip.NewReader(rc)
	if err != nil {
		return nil, fmt.Errorf("last layer is not gzip: %w", err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil, fmt.Errorf("no %s in the last layer", pluginFileName)
		}
		if err != nil {
			return nil, fmt.Errorf("reading the last layer: %w", err)
		}
		if path.Base(h.Name) == pluginFileName {
			return io.ReadAll(tr)
		}
	}
}

func wasmFromArtifact(layers []v1.Layer) ([]byte, error) {
	if len(layers) != 2 {
		return nil, fmt.Errorf("%d layers, want 2", len(layers))
	}
	for _, l := range layers {
		if mt, err := l.MediaType(); err != nil || mt != wasmLayerType {
			continue
		}
		rc, err := l.Compressed() // the layer is the raw module, not compressed
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return io.ReadAll(rc)
	}
	return nil, fmt.Errorf("no layer of type %s", wasmLayerType)
}
