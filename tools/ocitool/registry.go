package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// newTransport is remote.DefaultTransport, trusting caFile in addition to the
// system roots (which Go reads from SSL_CERT_FILE / SSL_CERT_DIR when set).
func newTransport(caFile string) (*http.Transport, error) {
	t := remote.DefaultTransport.(*http.Transport).Clone()
	if caFile == "" {
		return t, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("--ca: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--ca %s: no PEM certificate in it", caFile)
	}
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return t, nil
}

// dockerAuth is one entry of "auths" in a .dockerconfigjson.
type dockerAuth struct {
	Username      string `json:"username"`
	Password      string `json:"password"`
	Auth          string `json:"auth"`
	IdentityToken string `json:"identitytoken"`
	RegistryToken string `json:"registrytoken"`
}

// dockerConfigKeychain resolves credentials from the bytes of a
// kubernetes.io/dockerconfigjson Secret, as Istio's agent does: the entry
// whose key is the registry host, or whose key reduces to it once the scheme
// and path are dropped ("https://HOST/v1/"); no entry means anonymous.
type dockerConfigKeychain struct{ auths map[string]dockerAuth }

func parseDockerConfig(b []byte) (*dockerConfigKeychain, error) {
	var cfg struct {
		Auths map[string]dockerAuth `json:"auths"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("dockerconfigjson is not valid JSON: %w", err)
	}
	for k, a := range cfg.Auths {
		if a.Auth == "" {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(a.Auth)
		user, pass, ok := strings.Cut(string(raw), ":")
		if err != nil || !ok {
			return nil, fmt.Errorf("dockerconfigjson: auths[%q].auth is not base64 of user:password", k)
		}
		a.Username, a.Password, a.Auth = user, pass, ""
		cfg.Auths[k] = a
	}
	return &dockerConfigKeychain{auths: cfg.Auths}, nil
}

func hostOfKey(k string) string {
	k = strings.TrimPrefix(strings.TrimPrefix(k, "http://"), "https://")
	host, _, _ := strings.Cut(k, "/")
	return host
}

func (k *dockerConfigKeychain) lookup(registry string) (dockerAuth, bool) {
	if registry == name.DefaultRegistry {
		registry = authn.DefaultAuthKey
	}
	if a, ok := k.auths[registry]; ok {
		return a, true
	}
	for key, a := range k.auths {
		if hostOfKey(key) == registry {
			return a, true
		}
	}
	return dockerAuth{}, false
}

func (k *dockerConfigKeychain) hosts() []string {
	var hs []string
	for key := range k.auths {
		hs = append(hs, key)
	}
	sort.Strings(hs)
	return hs
}

// Resolve implements authn.Keychain.
func (k *dockerConfigKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	a, ok := k.lookup(r.RegistryStr())
	if !ok || a == (dockerAuth{}) {
		return authn.Anonymous, nil
	}
	return authn.FromConfig(authn.AuthConfig{
		Username: a.Username, Password: a.Password,
		IdentityToken: a.IdentityToken, RegistryToken: a.RegistryToken,
	}), nil
}

// explain turns registry and TLS failures into messages naming the bad value.
func explain(err error, registry, user, what string) error {
	if err == nil {
		return nil
	}
	who := "anonymous access"
	if user != "" {
		who = "user " + user
	}
	var terr *transport.Error
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var opErr *net.OpError
	switch {
	case errors.As(err, &terr) && terr.StatusCode == http.StatusUnauthorized:
		if user == "" {
			return fmt.Errorf("registry %s refused anonymous access while %s: give credentials", registry, what)
		}
		return fmt.Errorf("registry %s rejected the credentials for user %s", registry, user)
	case errors.As(err, &terr) && terr.StatusCode == http.StatusForbidden:
		return fmt.Errorf("registry %s denied %s while %s (HTTP 403)", registry, who, what)
	case errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound:
		return fmt.Errorf("not found in registry %s while %s: %v", registry, what, err)
	case errors.As(err, &unknownCA):
		return fmt.Errorf("registry %s: TLS certificate signed by an unknown authority (%s); "+
			"pass --ca FILE with its CA (sandbox: $SANDBOX_DIR/registry/ca.crt) or set SSL_CERT_FILE",
			registry, unknownCA.Cert.Issuer)
	case errors.As(err, &hostErr):
		return fmt.Errorf("registry %s: TLS certificate is not valid for this host: %v", registry, hostErr)
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return fmt.Errorf("cannot reach registry %s (is it running? sandbox: scripts/registry-up.sh): %v", registry, err)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("registry %s did not answer in time: %v", registry, err)
	}
	return fmt.Errorf("registry %s, %s: %w", registry, what, err)
}

// uploadCounter watches the requests the library makes, to report what a push
// actually sent: blobs completed (PUT .../blobs/uploads/...?digest=), blobs
// mounted from another repository, and manifests put.
type uploadCounter struct {
	base      http.RoundTripper
	mu        sync.Mutex
	blobs     []string
	mounted   int
	manifests int
}

func (c *uploadCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(req)
	if err != nil || resp.StatusCode/100 != 2 {
		return resp, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p := req.URL.Path
	switch {
	case req.Method == http.MethodPut && strings.Contains(p, "/blobs/uploads/"):
		c.blobs = append(c.blobs, req.URL.Query().Get("digest"))
	case req.Method == http.MethodPost && strings.Contains(p, "/blobs/uploads/") &&
		req.URL.Query().Get("mount") != "" && resp.StatusCode == http.StatusCreated:
		c.mounted++
	case req.Method == http.MethodPut && strings.Contains(p, "/manifests/"):
		c.manifests++
	}
	return resp, nil
}
