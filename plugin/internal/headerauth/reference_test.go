package headerauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"

	"asmwasm.local/plugin/internal/pluginconfig"
)

// referenceParseConfig is ParseConfig as it was when it used encoding/json,
// kept test-only so that it never reaches plugin.wasm: the differential fuzz
// target FuzzParseConfigMatchesReference holds the hand-written reader in
// pluginconfig to exactly its decisions. It shares the helpers that do not
// touch JSON (describe, isToken, isFieldValue, unknownKey, the want texts,
// the environment lookup).
func referenceParseConfig(data []byte, env LookupEnv) (Config, error) {
	cfg := Default()
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return cfg, nil
	}

	var raw refRawConfig
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return Config{}, refDecodeError(err)
	}
	// encoding/json accepts a key in any letter case and lets a repeated key
	// win silently; keys here are exact, so check the spelling as written.
	if err := refCheckKeys(data); err != nil {
		return Config{}, err
	}

	var err error
	if raw.Header != nil {
		if cfg.Header, err = refDecodeString(KeyHeader, raw.Header, wantHeader); err != nil {
			return Config{}, err
		}
		if !isToken(cfg.Header) {
			return Config{}, &ConfigError{Key: KeyHeader, Got: "got " + describe(raw.Header), Want: wantHeader}
		}
		cfg.Header = strings.ToLower(cfg.Header)
	}
	if raw.Value != nil && raw.ValueFromEnv != nil {
		return Config{}, errBothValues
	}
	if raw.Value != nil {
		if cfg.Value, err = refDecodeString(KeyValue, raw.Value, wantValue); err != nil {
			return Config{}, err
		}
		if !isFieldValue(cfg.Value) {
			return Config{}, &ConfigError{Key: KeyValue, Got: "got " + describe(raw.Value), Want: wantValue}
		}
	}
	if raw.ValueFromEnv != nil {
		if cfg.ValueEnv, err = refDecodeString(KeyValueFromEnv, raw.ValueFromEnv, wantEnvName); err != nil {
			return Config{}, err
		}
		if !isEnvName(cfg.ValueEnv) {
			return Config{}, &ConfigError{Key: KeyValueFromEnv, Got: "got " + describe(raw.ValueFromEnv), Want: wantEnvName}
		}
	}
	if raw.DenyStatus != nil {
		if cfg.DenyStatus, err = refDecodeStatus(raw.DenyStatus); err != nil {
			return Config{}, err
		}
	}
	if raw.DenyBody != nil {
		if cfg.DenyBody, err = refDecodeString(KeyDenyBody, raw.DenyBody, wantBody); err != nil {
			return Config{}, err
		}
	}
	if raw.DenyContentType != nil {
		if cfg.DenyContentType, err = refDecodeString(KeyDenyContentType, raw.DenyContentType, wantContentType); err != nil {
			return Config{}, err
		}
		if !isFieldValue(cfg.DenyContentType) {
			return Config{}, &ConfigError{Key: KeyDenyContentType, Got: "got " + describe(raw.DenyContentType), Want: wantContentType}
		}
	}
	if raw.Build != nil {
		if cfg.Build, err = refDecodeString(KeyBuild, raw.Build, wantBuild); err != nil {
			return Config{}, err
		}
		if !isFieldValue(cfg.Build) {
			return Config{}, &ConfigError{Key: KeyBuild, Got: "got " + describe(raw.Build), Want: wantBuild}
		}
	}
	if cfg.ValueEnv != "" {
		if cfg.Value, err = lookupValue(cfg.ValueEnv, env); err != nil {
			return Config{}, err
		}
	}
	return cfg, nil
}

// The helpers that do not touch JSON, shared with ParseConfig.
var (
	describe     = pluginconfig.Describe
	isToken      = pluginconfig.IsToken
	isFieldValue = pluginconfig.IsFieldValue
)

func unknownKey(key string) error { return pluginconfig.UnknownKey(key, allKeys) }

// refRawConfig keeps each value undecoded so that every key gets its own
// check and its own message; json.RawMessage also sees an explicit null,
// which a plain string field would silently ignore.
type refRawConfig struct {
	Header          json.RawMessage `json:"header"`
	Value           json.RawMessage `json:"value"`
	ValueFromEnv    json.RawMessage `json:"valueFromEnv"`
	DenyStatus      json.RawMessage `json:"denyStatus"`
	DenyBody        json.RawMessage `json:"denyBody"`
	DenyContentType json.RawMessage `json:"denyContentType"`
	Build           json.RawMessage `json:"build"`
}

func refDecodeError(err error) error {
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntaxErr):
		return &ConfigError{Got: fmt.Sprintf("invalid JSON at byte %d (%v)", syntaxErr.Offset, err), Want: wantObject}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &ConfigError{Got: "truncated JSON", Want: wantObject}
	case errors.As(err, &typeErr):
		// Every field is a json.RawMessage, so only the document itself can
		// have the wrong type.
		return &ConfigError{Got: "got a JSON " + typeErr.Value, Want: wantObject}
	}
	// encoding/json has no typed error for DisallowUnknownFields.
	if rest, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if key, uerr := strconv.Unquote(rest); uerr == nil {
			return unknownKey(key)
		}
	}
	return &ConfigError{Got: err.Error(), Want: wantObject}
}

// refCheckKeys walks the top-level keys of an object that already decoded
// once, so syntax errors are not expected here but are still reported.
func refCheckKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return &ConfigError{Got: "got " + describe(data), Want: wantObject}
	}
	seen := make(map[string]bool, len(allKeys))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return &ConfigError{Got: "invalid JSON (" + err.Error() + ")", Want: wantObject}
		}
		key, _ := tok.(string)
		known := false
		for _, k := range allKeys {
			known = known || k == key
		}
		if !known {
			return unknownKey(key)
		}
		if seen[key] {
			return &ConfigError{Key: key, Got: "key given twice", Want: "each key at most once"}
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return &ConfigError{Key: key, Got: "invalid JSON (" + err.Error() + ")", Want: wantObject}
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return &ConfigError{Got: "invalid JSON (" + err.Error() + ")", Want: wantObject}
	}
	if _, err := dec.Token(); err != io.EOF {
		return &ConfigError{Got: "data after the JSON object", Want: wantObject}
	}
	return nil
}

func refDecodeString(key string, raw json.RawMessage, want string) (string, error) {
	var s string
	if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", &ConfigError{Key: key, Got: "got " + describe(raw), Want: want}
	}
	return s, nil
}

func refDecodeStatus(raw json.RawMessage) (uint32, error) {
	var n int64
	// A JSON number such as 403.0 or 4e2 fails here, as it should.
	if err := json.Unmarshal(raw, &n); err != nil || raw[0] == 'n' || n < MinDenyStatus || n > MaxDenyStatus {
		return 0, &ConfigError{Key: KeyDenyStatus, Got: "got " + describe(raw), Want: wantStatus}
	}
	return uint32(n), nil
}

// FuzzParseConfigMatchesReference holds ParseConfig to referenceParseConfig:
// for any input both accept with the same Config, or both refuse naming the
// same key with the same message. Only the wording of a JSON syntax error
// may differ, not the byte it points at.
func FuzzParseConfigMatchesReference(f *testing.F) {
	for _, c := range acceptCases {
		f.Add([]byte(c.in))
	}
	for _, c := range refuseCases {
		f.Add([]byte(c.in))
	}
	nested := func(depth int) string {
		return `{"denyBody": ` + strings.Repeat("[", depth-1) + strings.Repeat("]", depth-1) + `}`
	}
	for _, seed := range []string{
		// Escapes, surrogates and broken UTF-8, in values and in keys.
		`{"denyBody": "\" \\ \/ \b \f \n \r \t \u0041\u00e9\u20AC"}`,
		`{"value": "\ud83d\ude00"}`, `{"value": "\ud83d"}`, `{"value": "\ud83dx"}`, `{"value": "\ude00"}`,
		`{"value": "\ud83d\u0041"}`, `{"value": "\ud83d\ud83d\ude00"}`, `{"value": "\ud83d\\u0041"}`,
		"{\"value\": \"a\xffb\"}", "{\"value\": \"\xed\xa0\x80\"}", "{\"value\": \"\xe2\x82\"}", "{\"value\": \"a\x7fb\"}",
		"{\"value\": \"a\x01b\"}", "{\"head\xffer\": 1}", `{"\u0068eader": "X"}`, `{"\u0000": 1}`,
		`{"value": "\x"}`, `{"value": "\u12"}`, `{"value": "\u12G4"}`, `{"value": "abc`, `{"value": "abc\`,
		// Keys in another letter case, repeated, or folding to a known one.
		`{"HEADER": "x"}`, `{"HEADER": "x", "foo": 1}`, `{"header": "x", "HEADER": 5}`, `{"denyſtatus": 403, "foo": 1}`,
		`{"header": "x", "header": "y"}`, `{"header": "x", "header": "y", "foo": 1}`, `{"value": "", "header": ""}`,
		// Nested containers, and the nesting limit either side.
		`{"denyBody": "x", "extra": {"a": [1, {"b": null}, [], {}]}}`, `{"header": {"a": 1}}`, `{"denyBody": [1, 2,]}`,
		`{"denyBody": {"a" 1}}`, `{"denyBody": {1: 2}}`, `{"denyBody": [1 2]}`, nested(pluginconfig.MaxDepth), nested(pluginconfig.MaxDepth + 1),
		// Numbers.
		`{"denyStatus": -0}`, `{"denyStatus": 1e5}`, `{"denyStatus": 0403}`, `{"denyStatus": 403e0}`, `{"denyStatus": 4.03E+2}`,
		`{"denyStatus": -1.5e-3}`, `{"denyStatus": 1.}`, `{"denyStatus": 1e}`, `{"denyStatus": -}`, `{"denyStatus": +403}`,
		`{"denyStatus": 0}`, `{"denyStatus": 00}`, `{"denyStatus": 5990}`, `0403`, `-0`, `1e5`, `-`, `1.`,
		// Literals and documents that are not an object.
		`true`, `false`, `nul`, `nullx`, `null x`, `truex`, `1x`, `"a"x`, `[1,`, `[1,]`, `{"a"`, `{"a":`, `{"a":1`, `{"a":1,`, `{,}`,
		`{"header": "x"} {`, `{"foo": 1} x`, `{"header": 1} x`, `{} x`,
		// Whitespace: JSON's own, and Unicode spaces that only the trim removes.
		" \t\r\n{\"header\": \"x\"}\n ", "\v{}\v", "\f{}", "\u00a0{}\u00a0", "\u0085{}", "\u2028{}\u3000",
		"{\v}", "{\"header\":\u00a0\"x\"}", "{}\u00a0x", "\ufeff{}", "{\ufeff}", "\ufeff",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ParseConfig(data, lookupTestEnv)
		want, refErr := referenceParseConfig(data, lookupTestEnv)
		if (err == nil) != (refErr == nil) || got != want {
			t.Fatalf("ParseConfig(%q) = %+v, %v; reference %+v, %v", data, got, err, want, refErr)
		}
		if err == nil {
			return
		}
		var cerr, refCerr *ConfigError
		if !errors.As(err, &cerr) || !errors.As(refErr, &refCerr) || !sameRefusal(cerr, refCerr) {
			t.Fatalf("ParseConfig(%q): error %q; reference %q", data, err, refErr)
		}
	})
}

// sameRefusal tells whether two refusals agree: the same key, the same
// message, except that a JSON syntax error need only point at the same byte.
func sameRefusal(got, want *ConfigError) bool {
	if got.Key != want.Key || got.Want != want.Want {
		return false
	}
	const syntax = "invalid JSON at byte "
	if strings.HasPrefix(want.Got, syntax) {
		gotAt, _, _ := strings.Cut(got.Got, " (")
		wantAt, _, _ := strings.Cut(want.Got, " (")
		return strings.HasPrefix(gotAt, syntax) && gotAt == wantAt
	}
	return got.Got == want.Got
}
