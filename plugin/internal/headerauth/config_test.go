package headerauth

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParseConfigEmptyGivesDefaults(t *testing.T) {
	for _, in := range []string{"", " \n\t", "{}", " { } "} {
		got, err := ParseConfig([]byte(in))
		if err != nil || got != Default() {
			t.Errorf("ParseConfig(%q) = %+v, %v; want defaults", in, got, err)
		}
	}
	want := Config{Header: "allow", Value: "true", DenyStatus: 403, DenyBody: "Forbidden by ASM Wasm Plugin", DenyContentType: "text/plain"}
	if Default() != want {
		t.Errorf("Default() = %+v, want the seed plugin's %+v", Default(), want)
	}
}

// acceptCases and refuseCases also seed FuzzParseConfigMatchesReference.
var acceptCases = []struct {
	name string
	in   string
	want Config
}{
	{
		name: "every key",
		in: `{"header": "x-api-key", "value": "s3cr3t", "denyStatus": 401,
				"denyBody": "no", "denyContentType": "application/json"}`,
		want: Config{Header: "x-api-key", Value: "s3cr3t", DenyStatus: 401, DenyBody: "no", DenyContentType: "application/json"},
	},
	{
		name: "header name is lower-cased",
		in:   `{"header": "X-Allow"}`,
		want: with(func(c *Config) { c.Header = "x-allow" }),
	},
	{
		name: "value keeps its case",
		in:   `{"value": "Yes"}`,
		want: with(func(c *Config) { c.Value = "Yes" }),
	},
	{
		name: "value with inner space and non-ASCII",
		in:   `{"value": "oui d\u00e9j\u00e0"}`,
		want: with(func(c *Config) { c.Value = "oui déjà" }),
	},
	{name: "lowest status", in: `{"denyStatus": 200}`, want: with(func(c *Config) { c.DenyStatus = 200 })},
	{name: "highest status", in: `{"denyStatus": 599}`, want: with(func(c *Config) { c.DenyStatus = 599 })},
	{name: "empty body", in: `{"denyBody": ""}`, want: with(func(c *Config) { c.DenyBody = "" })},
	{name: "body with newlines", in: `{"denyBody": "a\nb"}`, want: with(func(c *Config) { c.DenyBody = "a\nb" })},
}

func TestParseConfigAccepts(t *testing.T) {
	for _, c := range acceptCases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseConfig([]byte(c.in))
			if err != nil || got != c.want {
				t.Errorf("ParseConfig(%s) = %+v, %v; want %+v", c.in, got, err, c.want)
			}
		})
	}
}

func with(edit func(*Config)) Config {
	c := Default()
	edit(&c)
	return c
}

var refuseCases = []struct {
	in string
	// key is the ConfigError's Key ("" for the document as a whole).
	key string
}{
	{`{"headr": "allow"}`, "headr"},
	{`{"Header": "allow"}`, "Header"},
	{`{"header": "allow", "extra": 1}`, "extra"},
	{`{"": 1}`, ""},
	{`{"header": ""}`, KeyHeader},
	{`{"header": " allow"}`, KeyHeader},
	{`{"header": "allow:"}`, KeyHeader},
	{`{"header": ":authority"}`, KeyHeader},
	{`{"header": "x\u00e9"}`, KeyHeader},
	{`{"header": 1}`, KeyHeader},
	{`{"header": null}`, KeyHeader},
	{`{"header": ["allow"]}`, KeyHeader},
	{`{"value": ""}`, KeyValue},
	{`{"value": " true"}`, KeyValue},
	{`{"value": "true\t"}`, KeyValue},
	{`{"value": "tr\u0000ue"}`, KeyValue},
	{`{"value": "tr\rue"}`, KeyValue},
	{`{"value": true}`, KeyValue},
	{`{"denyStatus": 99}`, KeyDenyStatus},
	{`{"denyStatus": 199}`, KeyDenyStatus},
	{`{"denyStatus": 600}`, KeyDenyStatus},
	{`{"denyStatus": -403}`, KeyDenyStatus},
	{`{"denyStatus": 403.0}`, KeyDenyStatus},
	{`{"denyStatus": 4e2}`, KeyDenyStatus},
	{`{"denyStatus": 99999999999999999999}`, KeyDenyStatus},
	{`{"denyStatus": "403"}`, KeyDenyStatus},
	{`{"denyStatus": null}`, KeyDenyStatus},
	{`{"denyBody": 1}`, KeyDenyBody},
	{`{"denyBody": null}`, KeyDenyBody},
	{`{"denyContentType": ""}`, KeyDenyContentType},
	{`{"denyContentType": "text/plain\r\nx-injected: 1"}`, KeyDenyContentType},
	{`{"build": ""}`, KeyBuild},
	{`{"build": "sha256:1\r\nx-injected: 1"}`, KeyBuild},
	{`{"build": 7}`, KeyBuild},
	{`{"denyStatus": 401, "denyStatus": 402}`, KeyDenyStatus},
	{`null`, ""},
	{`[]`, ""},
	{`"allow"`, ""},
	{`42`, ""},
	{`{`, ""},
	{`{"header": "allow",}`, ""},
	{`{"header": "allow"} x`, ""},
	{`{} {}`, ""},
	{`allow: true`, ""},
	{"\xff", ""},
}

func TestParseConfigRefuses(t *testing.T) {
	for _, c := range refuseCases {
		t.Run(c.in, func(t *testing.T) {
			got, err := ParseConfig([]byte(c.in))
			var cerr *ConfigError
			if !errors.As(err, &cerr) {
				t.Fatalf("ParseConfig(%q) = %+v, %v; want a *ConfigError", c.in, got, err)
			}
			if got != (Config{}) {
				t.Errorf("a refused configuration came back non-zero: %+v", got)
			}
			if cerr.Key != c.key {
				t.Errorf("error %q names key %q, want %q", err, cerr.Key, c.key)
			}
			msg := err.Error()
			if cerr.Key != "" && !strings.Contains(msg, `"`+cerr.Key+`"`) {
				t.Errorf("error %q does not name the key", msg)
			}
			if cerr.Want == "" || !strings.Contains(msg, "want "+cerr.Want) {
				t.Errorf("error %q does not say what is accepted", msg)
			}
			if strings.ContainsAny(msg, "\n\r") {
				t.Errorf("error %q spans lines; it must be one log line", msg)
			}
		})
	}
}

func TestDescribeShortensLongValues(t *testing.T) {
	long := `"` + strings.Repeat("é", 100) + `"`
	got := describe([]byte(long))
	if !strings.HasPrefix(got, `string "éé`) || !strings.HasSuffix(got, "...") || len(got) > 80 {
		t.Errorf("describe(long string) = %q", got)
	}
	if !strings.Contains(describe([]byte("{\n\"a\": 1}")), `object { "a": 1}`) {
		t.Errorf("describe keeps newlines: %q", describe([]byte("{\n\"a\": 1}")))
	}
}

// FuzzParseConfig checks that any input either yields a configuration that
// holds every invariant the glue relies on, or a ConfigError; never a panic.
func FuzzParseConfig(f *testing.F) {
	for _, seed := range []string{
		"", "{}", "null", `{"header": "X-Allow", "value": "yes"}`,
		`{"denyStatus": 401, "denyBody": "no", "denyContentType": "application/json"}`,
		`{"denyStatus": 99}`, `{"header": ""}`, `{"Header": "a"}`, `{"value": "a", "value": "b"}`,
		`{"value": "\u0000"}`, `[1]`, `{"header": "allow"} {}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(data)
		if err != nil {
			var cerr *ConfigError
			if !errors.As(err, &cerr) || cerr.Want == "" || strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("ParseConfig(%q): error %#v is not a one-line ConfigError", data, err)
			}
			return
		}
		if !isToken(cfg.Header) || strings.ToLower(cfg.Header) != cfg.Header {
			t.Fatalf("ParseConfig(%q): header %q is not a lower-case header name", data, cfg.Header)
		}
		if !isFieldValue(cfg.Value) || !isFieldValue(cfg.DenyContentType) {
			t.Fatalf("ParseConfig(%q): value %q or content type %q cannot be a header value", data, cfg.Value, cfg.DenyContentType)
		}
		if cfg.DenyStatus < MinDenyStatus || cfg.DenyStatus > MaxDenyStatus {
			t.Fatalf("ParseConfig(%q): status %d out of range", data, cfg.DenyStatus)
		}
		// What was accepted, written back as JSON, reads back the same.
		written := map[string]any{
			KeyHeader: cfg.Header, KeyValue: cfg.Value, KeyDenyStatus: cfg.DenyStatus,
			KeyDenyBody: cfg.DenyBody, KeyDenyContentType: cfg.DenyContentType,
		}
		if cfg.Build != "" {
			written[KeyBuild] = cfg.Build
		}
		again, err := json.Marshal(written)
		if err != nil {
			t.Fatal(err)
		}
		if round, err := ParseConfig(again); err != nil || round != cfg {
			t.Fatalf("round trip of %+v gave %+v, %v", cfg, round, err)
		}
	})
}
