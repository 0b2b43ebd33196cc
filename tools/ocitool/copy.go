package main

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

type copyResult struct {
	From   string `json:"from"`
	Ref    string `json:"ref"` // HOST/REPO@sha256:... in the destination
	Digest string `json:"digest"`
}

// copyImage copies an image, named by digest, to another registry or repository
// without changing a byte of its manifest, so the digest a WasmPlugin is pinned
// to stays valid (promotion into a prod registry). An index is refused: Istio
// would compare the digest of the linux/amd64 manifest, not of the index.
func copyImage(ctx context.Context, fromStr, toStr string, fromKeys authn.Keychain, fromRT http.RoundTripper,
	toAuth authn.Authenticator, user string, toRT http.RoundTripper, logw io.Writer) (*copyResult, error) {
	from, err := name.NewDigest(fromStr)
	if err != nil {
		return nil, fmt.Errorf("--from %q is not HOST/REPO@sha256:<64 hex>: %w", fromStr, err)
	}
	to, err := parseRef(toStr, "--to")
	if err != nil {
		return nil, err
	}
	desc, err := remote.Get(from, remote.WithContext(ctx), remote.WithAuthFromKeychain(fromKeys),
		remote.WithTransport(fromRT))
	if err != nil {
		return nil, explain(err, from.RegistryStr(), "", "fetching "+from.String())
	}
	if desc.MediaType.IsIndex() {
		return nil, fmt.Errorf("--from %s is an image index; push a single-platform image", fromStr)
	}
	img, err := desc.Image()
	if err != nil {
		return nil, err
	}
	digest, err := img.Digest()
	if err != nil {
		return nil, err
	}
	if digest.String() != from.DigestStr() {
		return nil, fmt.Errorf("registry %s served %s for %s", from.RegistryStr(), digest, fromStr)
	}
	if err := remote.Write(to, img, remote.WithContext(ctx), remote.WithAuth(toAuth), remote.WithTransport(toRT)); err != nil {
		return nil, explain(err, to.Context().RegistryStr(), user, "pushing "+to.String())
	}
	res := &copyResult{From: from.String(), Ref: to.Context().Digest(digest.String()).String(), Digest: digest.String()}
	fmt.Fprintf(logw, "ocitool: copied %s to %s\n", from, res.Ref)
	return res, nil
}
