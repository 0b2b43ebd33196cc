package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

const testUser, testPass = "pusher", "s3cret"

var fakeWasm = []byte("\x00asm\x01\x00\x00\x00fake module body")

// testRegistry is go-containerregistry's in-memory registry behind TLS and
// HTTP basic auth, like the sandbox registry.
type testRegistry struct {
	host, caFile string
	rt           http.RoundTripper
}

func newTestRegistry(t *testing.T) *testRegistry {
	t.Helper()
	reg := registry.New()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != testUser || p != testPass {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	caFile := filepath.Join(t.TempDir(), "ca.crt")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, pemBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	rt, err := newTransport(caFile)
	if err != nil {
		t.Fatal(err)
	}
	return &testRegistry{host: strings.TrimPrefix(srv.URL, "https://"), caFile: caFile, rt: rt}
}

func (r *testRegistry) push(t *testing.T, ref, format string) *pushResult {
	t.Helper()
	var log bytes.Buffer
	res, err := push(context.Background(), fakeWasm, ref, format,
		&authn.Basic{Username: testUser, Password: testPass}, testUser, r.rt, &log)
	if err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	t.Logf("push log: %s", log.String())
	return res
}

func (r *testRegistry) keychain(t *testing.T, user, pass string) authn.Keychain {
	t.Helper()
	cfg := map[string]any{"auths": map[string]any{
		"https://" + r.host + "/v1/": map[string]string{
			"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + pass)),
		},
	}}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	k, err := parseDockerConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestPushPullRoundTrip(t *testing.T) {
	r := newTestRegistry(t)
	for _, format := range []string{formatDocker, formatOCI, formatArtifact} {
		t.Run(format, func(t *testing.T) {
			res := r.push(t, r.host+"/test-oci/header-authorization:v0.0.1-"+format, format)
			if !strings.HasPrefix(res.Ref, r.host+"/test-oci/header-authorization@sha256:") {
				t.Fatalf("pushed ref %q", res.Ref)
			}
			wasm, got, err := pull(context.Background(), "oci://"+res.Ref, "", r.keychain(t, testUser, testPass), r.rt)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(wasm, fakeWasm) || got.Size != len(fakeWasm) {
				t.Fatalf("pulled %q, want %q", wasm, fakeWasm)
			}
			if got.ManifestDigest != res.Digest || got.Format != format {
				t.Fatalf("pulled %+v, pushed %+v", got, res)
			}
		})
	}
}

func TestDeterministicAndIdempotent(t *testing.T) {
	a, err := buildImage(fakeWasm, formatDocker)
	if err != nil {
		t.Fatal(err)
	}
	b, err := buildImage(append([]byte{}, fakeWasm...), formatDocker)
	if err != nil {
		t.Fatal(err)
	}
	da, _ := a.Digest()
	db, _ := b.Digest()
	if da != db {
		t.Fatalf("same bytes, digests %s and %s", da, db)
	}
	other, _ := buildImage(append(append([]byte{}, fakeWasm...), 0), formatDocker)
	if do, _ := other.Digest(); do == da {
		t.Fatal("different bytes, same digest")
	}

	r := newTestRegistry(t)
	ref := r.host + "/test-oci/header-authorization:v0.0.1"
	first := r.push(t, ref, formatDocker)
	if len(first.UploadedBlobs) != 2 || !first.ManifestPut || first.Digest != da.String() {
		t.Fatalf("first push: %+v (built %s)", first, da)
	}
	again := r.push(t, ref, formatDocker)
	if len(again.UploadedBlobs) != 0 || again.ManifestPut || again.Ref != first.Ref {
		t.Fatalf("second push sent something: %+v", again)
	}
	// A new tag for the same bytes: only the manifest goes up.
	retag := r.push(t, r.host+"/test-oci/header-authorization:v0.0.2", formatDocker)
	if len(retag.UploadedBlobs) != 0 || !retag.ManifestPut || retag.Digest != first.Digest {
		t.Fatalf("retag: %+v", retag)
	}
}

func TestDigestMismatchRejected(t *testing.T) {
	r := newTestRegistry(t)
	res := r.push(t, r.host+"/test-oci/plugin:v1", formatDocker)
	k := r.keychain(t, testUser, testPass)
	wrong := strings.Repeat("a", 64)
	_, _, err := pull(context.Background(), "oci://"+r.host+"/test-oci/plugin:v1", wrong, k, r.rt)
	if err == nil || !strings.Contains(err.Error(), "not the expected sha256:"+wrong) {
		t.Fatalf("tag with a wrong --sha256: %v", err)
	}
	_, _, err = pull(context.Background(), "oci://"+res.Ref, wrong, k, r.rt)
	if err == nil || !strings.Contains(err.Error(), "differs from the digest in --url") {
		t.Fatalf("--sha256 and url digest disagree: %v", err)
	}

	// An index wrapping the image: the agent resolves it to the linux/amd64
	// manifest, whose digest is not the one in the URL.
	img, _ := buildImage(fakeWasm, formatDocker)
	idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img,
		Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}})
	idxDigest, _ := idx.Digest()
	idxRef, _ := name.ParseReference(r.host + "/test-oci/plugin:index")
	if err := remote.WriteIndex(idxRef, idx, remote.WithTransport(r.rt),
		remote.WithAuth(&authn.Basic{Username: testUser, Password: testPass})); err != nil {
		t.Fatal(err)
	}
	_, _, err = pull(context.Background(), "oci://"+r.host+"/test-oci/plugin@"+idxDigest.String(), "", k, r.rt)
	if err == nil || !strings.Contains(err.Error(), "image index") {
		t.Fatalf("pull by index digest: %v", err)
	}
}

func TestWrongCredentialsRejected(t *testing.T) {
	r := newTestRegistry(t)
	ref := r.host + "/test-oci/plugin:v1"
	_, err := push(context.Background(), fakeWasm, ref, formatDocker,
		&authn.Basic{Username: testUser, Password: "nope"}, testUser, r.rt, &bytes.Buffer{})
	want := fmt.Sprintf("registry %s rejected the credentials for user %s", r.host, testUser)
	if err == nil || err.Error() != want {
		t.Fatalf("push with a wrong password: %v, want %q", err, want)
	}
	res := r.push(t, ref, formatDocker)
	_, _, err = pull(context.Background(), "oci://"+res.Ref, "", r.keychain(t, testUser, "nope"), r.rt)
	if err == nil || err.Error() != want {
		t.Fatalf("pull with a wrong password: %v, want %q", err, want)
	}
	other, _ := parseDockerConfig([]byte(`{"auths":{"elsewhere.example:5000":{"auth":"` +
		base64.StdEncoding.EncodeToString([]byte("u:p")) + `"}}}`))
	_, _, err = pull(context.Background(), "oci://"+res.Ref, "", other, r.rt)
	if err == nil || !strings.Contains(err.Error(), "has no entry for "+r.host) {
		t.Fatalf("pull with no matching entry: %v", err)
	}
}

func TestUnknownCAHint(t *testing.T) {
	r := newTestRegistry(t)
	plain, _ := newTransport("")
	_, err := push(context.Background(), fakeWasm, r.host+"/test-oci/plugin:v1", formatDocker,
		&authn.Basic{Username: testUser, Password: testPass}, testUser, plain, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "unknown authority") || !strings.Contains(err.Error(), "--ca") {
		t.Fatalf("push without the CA: %v", err)
	}
}

func TestCLI(t *testing.T) {
	r := newTestRegistry(t)
	dir := t.TempDir()
	wasmPath := filepath.Join(dir, "plugin.wasm")
	if err := os.WriteFile(wasmPath, fakeWasm, 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	err := run([]string{"push", "--wasm", wasmPath, "--ref", r.host + "/test-oci/header-authorization:v0.0.1",
		"--ca", r.caFile, "--username", testUser, "--password-stdin"},
		strings.NewReader(testPass+"\n"), &out, &errOut)
	if err != nil {
		t.Fatalf("push: %v\n%s", err, errOut.String())
	}
	ref := strings.TrimSpace(out.String())
	if strings.Count(out.String(), "\n") != 1 || !strings.Contains(ref, "@sha256:") {
		t.Fatalf("push stdout %q", out.String())
	}

	cfg := fmt.Sprintf(`{"auths":{%q:{"username":%q,"password":%q}}}`, r.host, testUser, testPass)
	outPath := filepath.Join(dir, "pulled.wasm")
	out.Reset()
	err = run([]string{"pull", "--url", "oci://" + ref, "--dockerconfigjson", "-", "--ca", r.caFile,
		"--out", outPath, "--json"}, strings.NewReader(cfg), &out, &errOut)
	if err != nil {
		t.Fatalf("pull: %v\n%s", err, errOut.String())
	}
	var res pullResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("pull --json printed %q: %v", out.String(), err)
	}
	got, _ := os.ReadFile(outPath)
	if !bytes.Equal(got, fakeWasm) || res.Size != len(fakeWasm) || "sha256:"+res.SHA256 == res.ManifestDigest {
		t.Fatalf("pulled %q, result %+v", got, res)
	}

	for args, want := range map[string]string{
		"push --wasm " + wasmPath + " --ref test-oci/x:v1":              `bad --ref "test-oci/x:v1"`,
		"push --wasm " + wasmPath + " --ref " + r.host + "/UPPER:v1":    "bad --ref",
		"pull --url https://" + r.host + "/x --out " + outPath:          "bad --url",
		"pull --url oci://" + ref + " --sha256 XYZ --out " + outPath:    `bad --sha256 "XYZ"`,
		"push --wasm " + outPath + ".missing --ref " + r.host + "/x:v1": "--wasm",
		"bogus": "subcommand",
	} {
		err := run(strings.Fields(args), strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ocitool %s: %v, want an error containing %q", args, err, want)
		}
	}
}

func TestNotWasmRejected(t *testing.T) {
	if _, err := push(context.Background(), []byte("hello world"), "example.com/x:v1", formatDocker,
		authn.Anonymous, "", http.DefaultTransport, &bytes.Buffer{}); err == nil {
		t.Fatal("pushed a non-wasm file")
	}
	img, _ := buildImage([]byte("hello world, not wasm"), formatOCI)
	if b, _, err := extractWasm(img); err != nil || isWasm(b) {
		t.Fatalf("extract: %q %v", b, err)
	}
}

func TestCopyKeepsTheDigest(t *testing.T) {
	dev, prod := newTestRegistry(t), newTestRegistry(t)
	for _, format := range []string{formatDocker, formatOCI} {
		pushed := dev.push(t, dev.host+"/test-oci/header-authorization:v1-"+format, format)
		var log bytes.Buffer
		res, err := copyImage(context.Background(), pushed.Ref, prod.host+"/prod/header-authorization:v1",
			dev.keychain(t, testUser, testPass), dev.rt, &authn.Basic{Username: testUser, Password: testPass},
			testUser, prod.rt, &log)
		if err != nil {
			t.Fatalf("copy %s: %v", format, err)
		}
		if res.Digest != pushed.Digest || res.Ref != prod.host+"/prod/header-authorization@"+pushed.Digest {
			t.Fatalf("copied %+v from %+v", res, pushed)
		}
		wasm, _, err := pull(context.Background(), "oci://"+res.Ref, "", prod.keychain(t, testUser, testPass), prod.rt)
		if err != nil || !bytes.Equal(wasm, fakeWasm) {
			t.Fatalf("pull of the copy: %v", err)
		}
	}
	_, err := copyImage(context.Background(), dev.host+"/test-oci/header-authorization:v1", prod.host+"/p:v1",
		dev.keychain(t, testUser, testPass), dev.rt, authn.Anonymous, "", prod.rt, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("a tag-only --from must be refused, got %v", err)
	}
	_, err = copyImage(context.Background(), dev.push(t, dev.host+"/a/b:v9", formatDocker).Ref, prod.host+"/p:v1",
		dev.keychain(t, testUser, testPass), dev.rt, &authn.Basic{Username: testUser, Password: "wrong"}, testUser,
		prod.rt, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "rejected the credentials") {
		t.Fatalf("wrong destination password: %v", err)
	}
}
