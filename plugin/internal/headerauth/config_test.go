package headerauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"asmwasm.local/plugin/internal/pluginconfig"
)

// The environment the tests give ParseConfig: the variables valueFromEnv may
// name. envSecret must never show in an error or a log line.
const envSecret = "env-s3cr3t-7d1f"

var testEnv = map[string]string{
	"API_KEY": envSecret,
	"EMPTY":   "",
	"PADDED":  " " + envSecret,
	"NEWLINE": envSecret + "\n", // as a Secret made from a file with a final newline
}

func lookupTestEnv(name string) (string, bool) {
	v, ok := testEnv[name]
	return v, ok
}

func TestParseConfigEmptyGivesDefaults(t *testing.T) {
	for _, in := range []string{"", " \n\t", "{}", " { } "} {
		got, err := ParseConfig([]byte(in), lookupTestEnv)
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
	{
		name: "value from the environment",
		in:   `{"valueFromEnv": "API_KEY"}`,
		want: with(func(c *Config) { c.Value, c.ValueEnv = envSecret, "API_KEY" }),
	},
	{
		name: "value from the environment, with every other key",
		in: `{"header": "X-Api-Key", "valueFromEnv": "API_KEY", "denyStatus": 401,
				"denyBody": "no", "denyContentType": "application/json", "build": "sha256:ab"}`,
		want: Config{Header: "x-api-key", Value: envSecret, ValueEnv: "API_KEY", DenyStatus: 401, DenyBody: "no",
			DenyContentType: "application/json", Build: "sha256:ab"},
	},
}

func TestParseConfigAccepts(t *testing.T) {
	for _, c := range acceptCases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseConfig([]byte(c.in), lookupTestEnv)
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
	{`{"value": "true", "valueFromEnv": "API_KEY"}`, KeyValueFromEnv},
	{`{"valueFromEnv": "API_KEY", "value": "x"}`, KeyValueFromEnv},
	{`{"valueFromEnv": "UNSET"}`, KeyValueFromEnv},
	{`{"valueFromEnv": "EMPTY"}`, KeyValueFromEnv},
	{`{"valueFromEnv": "PADDED"}`, KeyValueFromEnv},
	{`{"valueFromEnv": "NEWLINE"}`, KeyValueFromEnv},
	{`{"valueFromEnv": "api_key"}`, KeyValueFromEnv},
	{`{"valueFromEnv": ""}`, KeyValueFromEnv},
	{`{"valueFromEnv": "API_KEY=x"}`, KeyValueFromEnv},
	{`{"valueFromEnv": "API KEY"}`, KeyValueFromEnv},
	{`{"valueFromEnv": "API_KEY\n"}`, KeyValueFromEnv},
	{`{"valueFromEnv": "CL\u00c9"}`, KeyValueFromEnv},
	{`{"valueFromEnv": 1}`, KeyValueFromEnv},
	{`{"valueFromEnv": null}`, KeyValueFromEnv},
	{`{"valueFromEnv": "UNSET", "denyStatus": 99}`, KeyDenyStatus},
	{`{"ValueFromEnv": "API_KEY"}`, "ValueFromEnv"},
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
			got, err := ParseConfig([]byte(c.in), lookupTestEnv)
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
			if strings.Contains(msg, envSecret) {
				t.Errorf("error %q shows the secret from the environment", msg)
			}
		})
	}
}

func TestValueFromEnvErrorsNameTheVariable(t *testing.T) {
	cases := []struct {
		in  string
		env LookupEnv
		// Every piece must be in the message.
		has []string
	}{
		{`{"valueFromEnv": "UNSET"}`, lookupTestEnv, []string{`"valueFromEnv"`, `environment variable "UNSET" is not set`, "vmConfig.env"}},
		{`{"valueFromEnv": "API_KEY"}`, nil, []string{`environment variable "API_KEY" is not set`}},
		{`{"valueFromEnv": "EMPTY"}`, lookupTestEnv, []string{`environment variable "EMPTY" is empty`, "not shown"}},
		{`{"valueFromEnv": "NEWLINE"}`, lookupTestEnv, []string{`"NEWLINE" holds control characters`, "not shown"}},
		{`{"valueFromEnv": "PADDED"}`, lookupTestEnv, []string{`"PADDED" holds`, "leading/trailing whitespace"}},
		{`{"valueFromEnv": "A=B"}`, lookupTestEnv, []string{`got string "A=B"`, "name of an environment variable"}},
		{`{"value": "true", "valueFromEnv": "API_KEY"}`, lookupTestEnv, []string{`"valueFromEnv"`, `"value"`, "not both"}},
	}
	for _, c := range cases {
		_, err := ParseConfig([]byte(c.in), c.env)
		if err == nil {
			t.Errorf("ParseConfig(%s) accepted it", c.in)
			continue
		}
		for _, part := range c.has {
			if !strings.Contains(err.Error(), part) {
				t.Errorf("ParseConfig(%s): error %q lacks %q", c.in, err, part)
			}
		}
	}
}

func TestValueFromEnvIsReadOnlyWhenNamed(t *testing.T) {
	looked := false
	spy := func(string) (string, bool) { looked = true; return "", false }
	for _, in := range []string{"", "{}", `{"value": "yes"}`, `{"header": "x"}`} {
		if _, err := ParseConfig([]byte(in), spy); err != nil || looked {
			t.Errorf("ParseConfig(%s): error %v, environment read: %v; want neither", in, err, looked)
		}
	}
}

// FuzzParseConfig checks that any input either yields a configuration that
// holds every invariant the glue relies on, or a ConfigError; never a panic.
func FuzzParseConfig(f *testing.F) {
	for _, seed := range []string{
		"", "{}", "null", `{"header": "X-Allow", "value": "yes"}`, `{"valueFromEnv": "API_KEY"}`, `{"valueFromEnv": "EMPTY"}`,
		`{"denyStatus": 401, "denyBody": "no", "denyContentType": "application/json"}`,
		`{"denyStatus": 99}`, `{"header": ""}`, `{"Header": "a"}`, `{"value": "a", "value": "b"}`,
		`{"value": "\u0000"}`, `[1]`, `{"header": "allow"} {}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(data, lookupTestEnv)
		// The secret may show only where the input itself holds it.
		secretGiven := bytes.Contains(data, []byte(envSecret))
		if err != nil {
			var cerr *ConfigError
			if !errors.As(err, &cerr) || cerr.Want == "" || strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("ParseConfig(%q): error %#v is not a one-line ConfigError", data, err)
			}
			if !secretGiven && strings.Contains(err.Error(), envSecret) {
				t.Fatalf("ParseConfig(%q): error %q shows the secret from the environment", data, err)
			}
			return
		}
		if cfg.ValueEnv != "" {
			if want, ok := testEnv[cfg.ValueEnv]; !ok || cfg.Value != want {
				t.Fatalf("ParseConfig(%q): value %q from $%s, want the environment's %q", data, cfg.Value, cfg.ValueEnv, want)
			}
			if line := cfg.DenyLog("x"); !secretGiven && strings.Contains(line, envSecret) {
				t.Fatalf("ParseConfig(%q): the deny log line %q shows the secret", data, line)
			}
		}
		if !pluginconfig.IsToken(cfg.Header) || strings.ToLower(cfg.Header) != cfg.Header {
			t.Fatalf("ParseConfig(%q): header %q is not a lower-case header name", data, cfg.Header)
		}
		if !pluginconfig.IsFieldValue(cfg.Value) || !pluginconfig.IsFieldValue(cfg.DenyContentType) {
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
		if cfg.ValueEnv != "" {
			delete(written, KeyValue)
			written[KeyValueFromEnv] = cfg.ValueEnv
		}
		if cfg.Build != "" {
			written[KeyBuild] = cfg.Build
		}
		again, err := json.Marshal(written)
		if err != nil {
			t.Fatal(err)
		}
		if round, err := ParseConfig(again, lookupTestEnv); err != nil || round != cfg {
			t.Fatalf("round trip of %+v gave %+v, %v", cfg, round, err)
		}
	})
}
