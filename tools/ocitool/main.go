// Command ocitool pushes a Wasm plugin as the image that
// `FROM scratch` + `ADD ./plugin.wasm ./plugin.wasm` builds, and pulls it back
// the way Istio's agent fetches a WasmPlugin's oci:// URL.
//
//	ocitool push --wasm plugin.wasm --ref HOST/REPO:TAG [--format docker|oci|artifact]
//	             [--ca FILE] [--username U --password-stdin] [--json]
//	ocitool pull --url oci://HOST/REPO@sha256:HEX [--sha256 HEX]
//	             [--dockerconfigjson FILE|-] [--ca FILE] --out plugin.wasm [--json]
//	ocitool copy --from HOST/REPO@sha256:HEX [--from-dockerconfigjson FILE] [--from-ca FILE]
//	             --to HOST2/REPO2:TAG [--ca FILE] [--username U --password-stdin] [--json]
//
// push prints HOST/REPO@sha256:... on stdout; pull prints "sha256:HEX SIZE".
// Everything else goes to stderr.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

type pushResult struct {
	Ref           string   `json:"ref"` // HOST/REPO@sha256:...
	Tag           string   `json:"tag,omitempty"`
	Digest        string   `json:"digest"`
	Format        string   `json:"format"`
	UploadedBlobs []string `json:"uploaded_blobs"`
	ManifestPut   bool     `json:"manifest_put"`
}

type pullResult struct {
	Ref            string `json:"ref"`
	ManifestDigest string `json:"manifest_digest"`
	Format         string `json:"format"`
	SHA256         string `json:"sha256"`
	Size           int    `json:"size"`
	Out            string `json:"out"`
}

// parseRef parses an image reference that must name its registry: a bare
// "repo:tag" would silently mean Docker Hub.
func parseRef(s, flagName string) (name.Reference, error) {
	ref, err := name.ParseReference(s)
	if err != nil {
		return nil, fmt.Errorf("bad %s %q: %v", flagName, s, err)
	}
	first, _, _ := strings.Cut(s, "/")
	if !strings.ContainsAny(first, ".:") && first != "localhost" {
		return nil, fmt.Errorf("bad %s %q: it must start with the registry host (HOST[:PORT]/REPO)", flagName, s)
	}
	return ref, nil
}

func push(ctx context.Context, wasm []byte, refStr, format string, auth authn.Authenticator, user string,
	rt http.RoundTripper, logw io.Writer) (*pushResult, error) {
	ref, err := parseRef(refStr, "--ref")
	if err != nil {
		return nil, err
	}
	if !isWasm(wasm) {
		return nil, errors.New("--wasm: not a WebAssembly module (no \\0asm header)")
	}
	img, err := buildImage(wasm, format)
	if err != nil {
		return nil, err
	}
	digest, err := img.Digest()
	if err != nil {
		return nil, err
	}
	if d, ok := ref.(name.Digest); ok && d.DigestStr() != digest.String() {
		return nil, fmt.Errorf("bad --ref %q: these bytes make %s", refStr, digest)
	}
	registry := ref.Context().RegistryStr()
	counter := &uploadCounter{base: rt}
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuth(auth), remote.WithTransport(counter)}
	res := &pushResult{Ref: ref.Context().Digest(digest.String()).String(), Digest: digest.String(), Format: format}
	if t, ok := ref.(name.Tag); ok {
		res.Tag = t.TagStr()
	}

	// Check first: if the reference already resolves to this digest, send nothing.
	if desc, err := remote.Head(ref, opts...); err == nil && desc.Digest == digest {
		fmt.Fprintf(logw, "ocitool: %s is already %s; uploaded nothing\n", ref, digest)
		res.UploadedBlobs = []string{}
		return res, nil
	} else if err != nil && !isNotFound(err) {
		return nil, explain(err, registry, user, "checking "+ref.String())
	}
	if err := remote.Write(ref, img, opts...); err != nil {
		return nil, explain(err, registry, user, "pushing "+ref.String())
	}
	res.UploadedBlobs = append([]string{}, counter.blobs...)
	res.ManifestPut = counter.manifests > 0
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	blobs := len(layers) + 1 // and the config
	fmt.Fprintf(logw, "ocitool: pushed %s (%s): uploaded %d of %d blob(s), %d mounted, %d already there; put the manifest\n",
		ref, format, len(counter.blobs), blobs, counter.mounted, blobs-len(counter.blobs)-counter.mounted)
	return res, nil
}

func isNotFound(err error) bool {
	var terr *transport.Error
	return errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound
}

var hexDigest = regexp.MustCompile(`^[a-f0-9]{64}$`)

// pull fetches url like Istio's agent (pkg/wasm: cache.go + imagefetcher.go):
// the oci:// scheme is dropped, the manifest is fetched (an index resolves to
// linux/amd64), its digest must equal the URL's digest and/or wantSHA (the
// WasmPlugin's spec.sha256), and the module is extracted and checked for the
// Wasm header.
func pull(ctx context.Context, rawURL, wantSHA string, keychain authn.Keychain, rt http.RoundTripper) ([]byte, *pullResult, error) {
	if !strings.Contains(rawURL, "://") {
		rawURL = "oci://" + rawURL // no scheme means oci, as in the WasmPlugin API
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "oci" || u.Host == "" {
		return nil, nil, fmt.Errorf("bad --url %q: want oci://HOST/REPO@sha256:HEX or oci://HOST/REPO:TAG", rawURL)
	}
	ref, err := parseRef(u.Host+u.Path, "--url")
	if err != nil {
		return nil, nil, err
	}
	if wantSHA != "" && !hexDigest.MatchString(wantSHA) {
		return nil, nil, fmt.Errorf("bad --sha256 %q: want 64 lowercase hex digits", wantSHA)
	}
	if d, ok := ref.(name.Digest); ok {
		urlSHA := strings.TrimPrefix(d.DigestStr(), "sha256:")
		if wantSHA != "" && wantSHA != urlSHA {
			return nil, nil, fmt.Errorf("--sha256 %s differs from the digest in --url %s", wantSHA, rawURL)
		}
		wantSHA = urlSHA
	}
	registry := ref.Context().RegistryStr()
	user, note := "", ""
	if k, ok := keychain.(*dockerConfigKeychain); ok {
		// Like the agent, go on anonymously; say why if the registry objects.
		if a, found := k.lookup(registry); found {
			user = a.Username
		} else {
			note = fmt.Sprintf(" (the dockerconfigjson has no entry for %s; its entries: %s)",
				registry, strings.Join(k.hosts(), ", "))
		}
	}
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(keychain), remote.WithTransport(rt)}
	desc, err := remote.Get(ref, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("%w%s", explain(err, registry, user, "fetching the manifest of "+ref.String()), note)
	}
	img, err := desc.Image()
	if err != nil {
		return nil, nil, fmt.Errorf("%w%s", explain(err, registry, user, "reading image "+ref.String()), note)
	}
	got, err := img.Digest()
	if err != nil {
		return nil, nil, err
	}
	if wantSHA != "" && got.Hex != wantSHA {
		msg := fmt.Sprintf("manifest digest of %s is %s, not the expected sha256:%s", ref, got, wantSHA)
		if desc.MediaType == types.OCIImageIndex || desc.MediaType == types.DockerManifestList {
			msg += " (the reference is an image index; Istio compares the linux/amd64 manifest's digest: push a single-platform image)"
		}
		return nil, nil, errors.New(msg)
	}
	wasm, format, err := extractWasm(img)
	if err != nil {
		return nil, nil, explain(err, registry, user, "reading the layers of "+ref.String())
	}
	if !isWasm(wasm) {
		return nil, nil, fmt.Errorf("%s holds %d bytes that are not a Wasm module (no \\0asm header)", ref, len(wasm))
	}
	sum := sha256.Sum256(wasm)
	return wasm, &pullResult{Ref: ref.Context().Digest(got.String()).String(), ManifestDigest: got.String(),
		Format: format, SHA256: hex.EncodeToString(sum[:]), Size: len(wasm)}, nil
}

func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".ocitool-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func emit(w io.Writer, asJSON bool, v any, line string) {
	if asJSON {
		b, _ := json.Marshal(v)
		line = string(b)
	}
	fmt.Fprintln(w, line)
}

const usage = `usage:
  ocitool push --wasm FILE --ref HOST/REPO[:TAG|@sha256:HEX] [--format docker|oci|artifact]
               [--ca FILE] [--username U --password-stdin] [--json]
  ocitool pull --url oci://HOST/REPO@sha256:HEX [--sha256 HEX] [--dockerconfigjson FILE|-]
               [--ca FILE] --out FILE [--json]
  ocitool copy --from HOST/REPO@sha256:HEX [--from-dockerconfigjson FILE] [--from-ca FILE]
               --to HOST2/REPO2:TAG [--ca FILE] [--username U --password-stdin] [--json]
`

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "push" && args[0] != "pull" && args[0] != "copy") {
		fmt.Fprint(stderr, usage)
		return errors.New("want a subcommand: push, pull or copy")
	}
	fs := flag.NewFlagSet("ocitool "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	ca := fs.String("ca", "", "PEM CA certificate to trust for the registry (besides the system roots)")
	asJSON := fs.Bool("json", false, "print the result as one JSON object")
	timeout := fs.Duration("timeout", 2*time.Minute, "overall time limit")
	var wasmPath, refStr, format, user, urlStr, sha, dockerCfg, out string
	var passwordStdin bool
	var fromStr, fromCfg, fromCA string
	switch args[0] {
	case "push", "copy":
		if args[0] == "push" {
			fs.StringVar(&wasmPath, "wasm", "", "the Wasm module to push")
			fs.StringVar(&refStr, "ref", "", "HOST/REPO:TAG to push to")
			fs.StringVar(&format, "format", formatDocker, "docker, oci or artifact")
		} else {
			fs.StringVar(&fromStr, "from", "", "the image to copy, by digest: HOST/REPO@sha256:HEX")
			fs.StringVar(&fromCfg, "from-dockerconfigjson", "", "credentials for --from's registry (a .dockerconfigjson FILE)")
			fs.StringVar(&fromCA, "from-ca", "", "PEM CA certificate to trust for --from's registry")
			fs.StringVar(&refStr, "to", "", "HOST/REPO:TAG to copy to")
		}
		fs.StringVar(&user, "username", "", "registry user (default: Docker's keychain)")
		fs.BoolVar(&passwordStdin, "password-stdin", false, "read the password from stdin")
	default:
		fs.StringVar(&urlStr, "url", "", "the WasmPlugin url: oci://HOST/REPO@sha256:HEX")
		fs.StringVar(&sha, "sha256", "", "expected manifest digest (hex), like WasmPlugin spec.sha256")
		fs.StringVar(&dockerCfg, "dockerconfigjson", "", "the pull Secret's .dockerconfigjson (FILE, or - for stdin)")
		fs.StringVar(&out, "out", "", "where to write the module")
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	rt, err := newTransport(*ca)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	if args[0] == "push" || args[0] == "copy" {
		if args[0] == "push" && (wasmPath == "" || refStr == "") {
			return errors.New("push needs --wasm and --ref")
		}
		if args[0] == "copy" && (fromStr == "" || refStr == "") {
			return errors.New("copy needs --from and --to")
		}
		var auth authn.Authenticator = authn.Anonymous
		switch {
		case user != "" && passwordStdin:
			pw, err := io.ReadAll(stdin)
			if err != nil {
				return fmt.Errorf("reading the password from stdin: %w", err)
			}
			auth = &authn.Basic{Username: user, Password: strings.TrimRight(string(pw), "\r\n")}
		case user != "" || passwordStdin:
			return errors.New("--username and --password-stdin go together")
		default:
			if ref, err := parseRef(refStr, "--ref"); err == nil {
				if auth, err = authn.DefaultKeychain.Resolve(ref.Context()); err != nil {
					return err
				}
			}
		}
		if args[0] == "copy" {
			var fromKeys authn.Keychain = authn.DefaultKeychain
			if fromCfg != "" {
				b, err := os.ReadFile(fromCfg)
				if err != nil {
					return fmt.Errorf("--from-dockerconfigjson: %w", err)
				}
				if fromKeys, err = parseDockerConfig(b); err != nil {
					return fmt.Errorf("--from-dockerconfigjson %s: %w", fromCfg, err)
				}
			}
			fromRT, err := newTransport(fromCA)
			if err != nil {
				return err
			}
			res, err := copyImage(ctx, fromStr, refStr, fromKeys, fromRT, auth, user, rt, stderr)
			if err != nil {
				return err
			}
			emit(stdout, *asJSON, res, res.Ref)
			return nil
		}
		wasm, err := os.ReadFile(wasmPath)
		if err != nil {
			return fmt.Errorf("--wasm: %w", err)
		}
		res, err := push(ctx, wasm, refStr, format, auth, user, rt, stderr)
		if err != nil {
			return err
		}
		emit(stdout, *asJSON, res, res.Ref)
		return nil
	}

	if urlStr == "" || out == "" {
		return errors.New("pull needs --url and --out")
	}
	var keychain authn.Keychain = authn.DefaultKeychain // Istio's agent without a pull Secret
	if dockerCfg != "" {
		var b []byte
		if dockerCfg == "-" {
			b, err = io.ReadAll(stdin)
		} else {
			b, err = os.ReadFile(dockerCfg)
		}
		if err != nil {
			return fmt.Errorf("--dockerconfigjson: %w", err)
		}
		if keychain, err = parseDockerConfig(b); err != nil {
			return fmt.Errorf("--dockerconfigjson %s: %w", dockerCfg, err)
		}
	}
	wasm, res, err := pull(ctx, urlStr, sha, keychain, rt)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(out, wasm); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	res.Out = out
	fmt.Fprintf(stderr, "ocitool: pulled %s (%s image) into %s\n", res.Ref, res.Format, out)
	emit(stdout, *asJSON, res, fmt.Sprintf("sha256:%s %d", res.SHA256, res.Size))
	return nil
}

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "ocitool:", err)
		}
		os.Exit(1)
	}
}
