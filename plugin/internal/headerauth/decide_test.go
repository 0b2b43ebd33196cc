package headerauth

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// headerList stands in for the host: names match case-insensitively and the
// first of repeated headers wins, as in Envoy.
type headerList [][2]string

func (h headerList) Get(name string) (string, bool) {
	for _, kv := range h {
		if strings.EqualFold(kv[0], name) {
			return kv[1], true
		}
	}
	return "", false
}

func TestDecide(t *testing.T) {
	custom := Config{Header: "x-api-key", Value: "s3cr3t", DenyStatus: 401, DenyBody: "no", DenyContentType: "text/plain"}
	cases := []struct {
		name    string
		cfg     Config
		headers headerList
		want    Verdict
	}{
		{"no header", Default(), nil, Verdict{}},
		{"allow: true", Default(), headerList{{"allow", "true"}}, Verdict{Allow: true, Got: "true"}},
		{"allow: false", Default(), headerList{{"allow", "false"}}, Verdict{Got: "false"}},
		{"name in other case", Default(), headerList{{"Allow", "true"}}, Verdict{Allow: true, Got: "true"}},
		{"value in other case", Default(), headerList{{"allow", "TRUE"}}, Verdict{Got: "TRUE"}},
		{"value with a prefix", Default(), headerList{{"allow", "xtrue"}}, Verdict{Got: "xtrue"}},
		{"value cut short", Default(), headerList{{"allow", "tru"}}, Verdict{Got: "tru"}},
		{"empty value", Default(), headerList{{"allow", ""}}, Verdict{}},
		{"first of repeated wins (deny)", Default(), headerList{{"allow", "no"}, {"allow", "true"}}, Verdict{Got: "no"}},
		{"first of repeated wins (allow)", Default(), headerList{{"allow", "true"}, {"allow", "no"}}, Verdict{Allow: true, Got: "true"}},
		{"other headers do not matter", Default(), headerList{{"x", "y"}, {"allow", "true"}}, Verdict{Allow: true, Got: "true"}},
		{"custom header", custom, headerList{{"X-Api-Key", "s3cr3t"}}, Verdict{Allow: true, Got: "s3cr3t"}},
		{"custom header, default header sent", custom, headerList{{"allow", "true"}}, Verdict{}},
		{"custom value, wrong", custom, headerList{{"x-api-key", "secret"}}, Verdict{Got: "secret"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.cfg.Decide(c.headers); got != c.want {
				t.Errorf("Decide(%q) = %+v, want %+v", c.headers, got, c.want)
			}
		})
	}
}

// A host that fails to read a header must not open the door, whatever value
// it leaves behind.
type brokenHost struct{}

func (brokenHost) Get(string) (string, bool) { return "true", false }

func TestDecideDeniesWhenTheHostFails(t *testing.T) {
	cfg := Default()
	if v := cfg.Decide(brokenHost{}); v.Allow || v.Got != "" {
		t.Errorf("Decide on a failing host = %+v, want a denial with no value", v)
	}
}

func TestDenyLogIsTheSeedLine(t *testing.T) {
	cfg := Default()
	for got, want := range map[string]string{
		"":      "request header: 'allow' is , only true can passthrough",
		"false": "request header: 'allow' is false, only true can passthrough",
	} {
		if line := cfg.DenyLog(got); line != want {
			t.Errorf("DenyLog(%q) = %q, want %q", got, line, want)
		}
	}
}

func TestDenyLogNamesTheVariableNotTheSecret(t *testing.T) {
	cfg, err := ParseConfig([]byte(`{"header": "X-Api-Key", "valueFromEnv": "API_KEY"}`), lookupTestEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := "request header: 'x-api-key' is nope, only the value of $API_KEY can passthrough"
	if line := cfg.DenyLog("nope"); line != want {
		t.Errorf("DenyLog = %q, want %q", line, want)
	}
	if line := string(cfg.AppendDenyLog(nil, "nope")); line != want {
		t.Errorf("AppendDenyLog = %q, want %q", line, want)
	}
	// The secret still decides.
	if !cfg.Decide(headerList{{"x-api-key", envSecret}}).Allow || cfg.Decide(headerList{{"x-api-key", "API_KEY"}}).Allow {
		t.Error("the value from the environment does not decide")
	}
}

func TestDenyHeaders(t *testing.T) {
	cfg := Default()
	if h := cfg.DenyHeaders(); len(h) != 1 || h[0] != [2]string{"Content-Type", "text/plain"} {
		t.Errorf("DenyHeaders() = %q", h)
	}
	cfg.Build = "sha256:ab"
	if h := cfg.DenyHeaders(); len(h) != 2 || h[1] != [2]string{BuildHeader, "sha256:ab"} {
		t.Errorf("DenyHeaders() with a build = %q", h)
	}
}

func TestDecideDoesNotAllocate(t *testing.T) {
	cfg := Default()
	headers := headerList{{":path", "/"}, {"allow", "true"}}
	allocs := testing.AllocsPerRun(100, func() {
		// A pointer, as the glue's zero-size host type, boxes without allocating.
		if !cfg.Decide(&headers).Allow {
			t.Fatal("denied")
		}
	})
	if allocs != 0 {
		t.Errorf("Decide allocates %v times per request, want 0", allocs)
	}
}

// FuzzDecide checks the rule itself: a request passes exactly when the
// configured header, in any letter case, first holds the configured value
// byte for byte.
func FuzzDecide(f *testing.F) {
	f.Add("allow", "true", "allow", "true")
	f.Add("allow", "true", "Allow", "true")
	f.Add("allow", "true", "allow", "false")
	f.Add("allow", "true", "allow", "")
	f.Add("X-Api-Key", "s3cr3t", "x-api-key", "S3CR3T")
	f.Add("allow", "true", "allowed", "true")
	f.Fuzz(func(t *testing.T, header, value, sentName, sentValue string) {
		raw, err := json.Marshal(map[string]string{KeyHeader: header, KeyValue: value})
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := ParseConfig(raw, nil)
		if err != nil {
			return // refused at start, so never decides
		}
		if utf8.ValidString(value) && cfg.Value != value {
			t.Fatalf("config %s: value read back as %q", raw, cfg.Value)
		}
		headers := headerList{{sentName, sentValue}}
		v := cfg.Decide(headers)
		want := strings.EqualFold(sentName, cfg.Header) && sentValue == cfg.Value
		if v.Allow != want {
			t.Fatalf("config %s, request %q: allow = %v, want %v", raw, headers, v.Allow, want)
		}
		if v.Got != "" && v.Got != sentValue {
			t.Fatalf("request %q: Got = %q", headers, v.Got)
		}
		if line := cfg.AppendDenyLog([]byte("x"), sentValue); string(line) != "x"+cfg.DenyLog(sentValue) {
			t.Fatalf("AppendDenyLog(%q) = %q, want the DenyLog line", sentValue, line)
		}
	})
}

func TestAppendDenyLogReusesItsBuffer(t *testing.T) {
	cfg := Config{Header: "x-api-key", Value: "s3cr3t"}
	buf := make([]byte, 0, 8) // too small at first: grows once, then is reused
	for _, got := range []string{"", "nope", strings.Repeat("v", 300), "x"} {
		buf = cfg.AppendDenyLog(buf[:0], got)
		if string(buf) != cfg.DenyLog(got) {
			t.Errorf("AppendDenyLog(%q) = %q, want %q", got, buf, cfg.DenyLog(got))
		}
	}
	if got := string(cfg.AppendDenyLog([]byte("kept: "), "v")); got != "kept: "+cfg.DenyLog("v") {
		t.Errorf("AppendDenyLog does not append: %q", got)
	}
	allocs := testing.AllocsPerRun(100, func() {
		buf = cfg.AppendDenyLog(buf[:0], "false")
	})
	if allocs != 0 {
		t.Errorf("AppendDenyLog into a reused buffer allocates %v times, want 0", allocs)
	}
}

// Per-request cost of the pure parts, natively: go test -bench . -benchmem ./internal/headerauth
func BenchmarkDecideAllowed(b *testing.B) {
	cfg := Default()
	headers := headerList{{":path", "/"}, {"allow", "true"}}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if !cfg.Decide(&headers).Allow {
			b.Fatal("denied")
		}
	}
}

func BenchmarkDenyLog(b *testing.B) {
	cfg := Default()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if len(cfg.DenyLog("false")) == 0 {
			b.Fatal("empty")
		}
	}
}

func BenchmarkAppendDenyLogReused(b *testing.B) {
	cfg := Default()
	var buf []byte
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = cfg.AppendDenyLog(buf[:0], "false")
	}
}
