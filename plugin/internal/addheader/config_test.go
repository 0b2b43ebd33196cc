package addheader

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"asmwasm.local/plugin/internal/pluginconfig"
)

func TestDefaults(t *testing.T) {
	want := Config{Name: "x-asm-plugin-chain", Value: "response-header"}
	for _, in := range []string{"", " \n", "{}", " { } "} {
		if got, err := ParseConfig([]byte(in)); err != nil || got != want {
			t.Errorf("ParseConfig(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
}

func TestParseConfigAccepts(t *testing.T) {
	for in, want := range map[string]Config{
		`{"name": "X-Chain", "value": "edge b"}`: {Name: "x-chain", Value: "edge b"},
		`{"value": "second"}`:                    {Name: DefaultName, Value: "second"},
		`{"name": "x-a"}`:                        {Name: "x-a", Value: DefaultValue},
		`{"value": "d\u00e9j\u00e0\tvu"}`:        {Name: DefaultName, Value: "déjà\tvu"},
	} {
		if got, err := ParseConfig([]byte(in)); err != nil || got != want {
			t.Errorf("ParseConfig(%s) = %+v, %v; want %+v", in, got, err, want)
		}
	}
}

func TestParseConfigRefuses(t *testing.T) {
	cases := []struct {
		in  string
		key string // the ConfigError's Key, "" for the document
		has string
	}{
		{`{"name": ""}`, KeyName, "HTTP header name"},
		{`{"name": "x chain"}`, KeyName, `got string "x chain"`},
		{`{"name": ":status"}`, KeyName, "HTTP header name"},
		{`{"name": "x-chain:"}`, KeyName, "HTTP header name"},
		{`{"name": "\u212a"}`, KeyName, "HTTP header name"}, // the Kelvin sign lower-cases to "k"
		{`{"name": "Content-Length"}`, KeyName, "not one of connection, content-length"},
		{`{"name": "transfer-encoding"}`, KeyName, "transfer-encoding"},
		{`{"name": 1}`, KeyName, "got number 1"},
		{`{"name": null}`, KeyName, "got null"},
		{`{"value": ""}`, KeyValue, "non-empty"},
		{`{"value": " x"}`, KeyValue, "leading/trailing whitespace"},
		{`{"value": "a\r\nx-injected: 1"}`, KeyValue, "control characters"},
		{`{"value": "a\u0000"}`, KeyValue, "control characters"},
		{`{"value": true}`, KeyValue, "got boolean true"},
		{`{"Name": "x"}`, "Name", "one of name, value (case-sensitive)"},
		{`{"header": "x"}`, "header", "unknown key"},
		{`{"name": "a", "name": "b"}`, KeyName, "twice"},
		{`[]`, "", "got a JSON array"},
		{`{"name": "x"`, "", "truncated JSON"},
		{`{"name": "x"} {}`, "", "data after the JSON object"},
	}
	for _, c := range cases {
		got, err := ParseConfig([]byte(c.in))
		var cerr *ConfigError
		if !errors.As(err, &cerr) || got != (Config{}) {
			t.Errorf("ParseConfig(%s) = %+v, %v; want a *ConfigError", c.in, got, err)
			continue
		}
		if cerr.Key != c.key || !strings.Contains(err.Error(), c.has) {
			t.Errorf("ParseConfig(%s): %q; want key %q and %q", c.in, err, c.key, c.has)
		}
	}
}

// FuzzParseConfig checks that any input either yields a header the glue can
// add as it is, or a one-line ConfigError; never a panic.
func FuzzParseConfig(f *testing.F) {
	for _, seed := range []string{
		"", "{}", `{"name": "X-A", "value": "b"}`, `{"name": "content-length"}`, `{"value": "a\r\nb"}`,
		`{"name": "\u212a"}`, `{"name": 1}`, `[]`, `{"name": "a"} x`,
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
		if !pluginconfig.IsToken(cfg.Name) || strings.ToLower(cfg.Name) != cfg.Name {
			t.Fatalf("ParseConfig(%q): name %q is not a lower-case header name", data, cfg.Name)
		}
		for _, framing := range framingHeaders {
			if cfg.Name == framing {
				t.Fatalf("ParseConfig(%q): accepted the framing header %q", data, cfg.Name)
			}
		}
		if !pluginconfig.IsFieldValue(cfg.Value) {
			t.Fatalf("ParseConfig(%q): value %q cannot be a header value", data, cfg.Value)
		}
		again, err := json.Marshal(map[string]string{KeyName: cfg.Name, KeyValue: cfg.Value})
		if err != nil {
			t.Fatal(err)
		}
		if round, err := ParseConfig(again); err != nil || round != cfg {
			t.Fatalf("round trip of %+v gave %+v, %v", cfg, round, err)
		}
	})
}
