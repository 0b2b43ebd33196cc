// Package headerauth holds the plugin's configuration and its decision, as
// plain Go with no proxy-wasm host calls, so that `go test` covers it
// without an emulator.
package headerauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Configuration keys, as they appear in the WasmPlugin's pluginConfig.
const (
	KeyHeader          = "header"
	KeyValue           = "value"
	KeyDenyStatus      = "denyStatus"
	KeyDenyBody        = "denyBody"
	KeyDenyContentType = "denyContentType"
)

// Defaults reproduce the plugin from the ASM guide this one replaces.
const (
	DefaultHeader          = "allow"
	DefaultValue           = "true"
	DefaultDenyStatus      = 403
	DefaultDenyBody        = "Forbidden by ASM Wasm Plugin"
	DefaultDenyContentType = "text/plain"
)

// Accepted range of denyStatus.
const (
	MinDenyStatus = 200
	MaxDenyStatus = 599
)

var allKeys = []string{KeyHeader, KeyValue, KeyDenyStatus, KeyDenyBody, KeyDenyContentType}

// Config is a validated configuration. Build it with Default or ParseConfig.
type Config struct {
	// Header is the request header to check, lower-cased (header names are
	// case-insensitive and Envoy stores them lower-cased).
	Header string
	// Value is what the header must hold, byte for byte.
	Value string
	// DenyStatus is the status of the local reply sent to a denied request.
	DenyStatus uint32
	// DenyBody is the body of that reply.
	DenyBody string
	// DenyContentType is its Content-Type.
	DenyContentType string
}

// Default returns the configuration used when pluginConfig is absent or empty.
func Default() Config {
	return Config{
		Header:          DefaultHeader,
		Value:           DefaultValue,
		DenyStatus:      DefaultDenyStatus,
		DenyBody:        DefaultDenyBody,
		DenyContentType: DefaultDenyContentType,
	}
}

// ConfigError explains why a configuration was refused: which key (empty when
// the document as a whole is at fault), what was found, and what is accepted.
type ConfigError struct {
	Key  string
	Got  string
	Want string
}

func (e *ConfigError) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("plugin configuration: %s, want %s", e.Got, e.Want)
	}
	return fmt.Sprintf("plugin configuration key %q: %s, want %s", e.Key, e.Got, e.Want)
}

// rawConfig keeps each value undecoded so that every key gets its own check
// and its own message; json.RawMessage also sees an explicit null, which a
// plain string field would silently ignore.
type rawConfig struct {
	Header          json.RawMessage `json:"header"`
	Value           json.RawMessage `json:"value"`
	DenyStatus      json.RawMessage `json:"denyStatus"`
	DenyBody        json.RawMessage `json:"denyBody"`
	DenyContentType json.RawMessage `json:"denyContentType"`
}

// ParseConfig validates the JSON plugin configuration. Empty input (or only
// whitespace) gives Default. Any other problem is a *ConfigError: the caller
// must then refuse to start rather than guess.
func ParseConfig(data []byte) (Config, error) {
	cfg := Default()
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return cfg, nil
	}

	var raw rawConfig
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return Config{}, decodeError(err)
	}
	// encoding/json accepts a key in any letter case and lets a repeated key
	// win silently; keys here are exact, so check the spelling as written.
	if err := checkKeys(data); err != nil {
		return Config{}, err
	}

	var err error
	if raw.Header != nil {
		if cfg.Header, err = decodeString(KeyHeader, raw.Header, wantHeader); err != nil {
			return Config{}, err
		}
		if !isToken(cfg.Header) {
			return Config{}, &ConfigError{Key: KeyHeader, Got: "got " + describe(raw.Header), Want: wantHeader}
		}
		cfg.Header = strings.ToLower(cfg.Header)
	}
	if raw.Value != nil {
		if cfg.Value, err = decodeString(KeyValue, raw.Value, wantValue); err != nil {
			return Config{}, err
		}
		if !isFieldValue(cfg.Value) {
			return Config{}, &ConfigError{Key: KeyValue, Got: "got " + describe(raw.Value), Want: wantValue}
		}
	}
	if raw.DenyStatus != nil {
		if cfg.DenyStatus, err = decodeStatus(raw.DenyStatus); err != nil {
			return Config{}, err
		}
	}
	if raw.DenyBody != nil {
		if cfg.DenyBody, err = decodeString(KeyDenyBody, raw.DenyBody, wantBody); err != nil {
			return Config{}, err
		}
	}
	if raw.DenyContentType != nil {
		if cfg.DenyContentType, err = decodeString(KeyDenyContentType, raw.DenyContentType, wantContentType); err != nil {
			return Config{}, err
		}
		if !isFieldValue(cfg.DenyContentType) {
			return Config{}, &ConfigError{Key: KeyDenyContentType, Got: "got " + describe(raw.DenyContentType), Want: wantContentType}
		}
	}
	return cfg, nil
}

const (
	wantObject      = "a JSON object with the keys header, value, denyStatus, denyBody, denyContentType (all optional)"
	wantHeader      = "a non-empty HTTP header name (letters, digits and !#$%&'*+-.^_`|~)"
	wantValue       = "a non-empty string without control characters or leading/trailing whitespace"
	wantBody        = "a string"
	wantContentType = "a non-empty string without control characters or leading/trailing whitespace"
	wantStatus      = "an integer from 200 to 599"
)

func decodeError(err error) error {
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

func unknownKey(key string) error {
	return &ConfigError{Key: key, Got: "unknown key", Want: "one of " + strings.Join(allKeys, ", ") + " (case-sensitive)"}
}

// checkKeys walks the top-level keys of an object that already decoded
// once, so syntax errors are not expected here but are still reported.
func checkKeys(data []byte) error {
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

func decodeString(key string, raw json.RawMessage, want string) (string, error) {
	var s string
	if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", &ConfigError{Key: key, Got: "got " + describe(raw), Want: want}
	}
	return s, nil
}

func decodeStatus(raw json.RawMessage) (uint32, error) {
	var n int64
	// A JSON number such as 403.0 or 4e2 fails here, as it should.
	if err := json.Unmarshal(raw, &n); err != nil || raw[0] == 'n' || n < MinDenyStatus || n > MaxDenyStatus {
		return 0, &ConfigError{Key: KeyDenyStatus, Got: "got " + describe(raw), Want: wantStatus}
	}
	return uint32(n), nil
}

// describe names a raw JSON value's kind and shows it, shortened and on one
// line, for the log.
func describe(raw []byte) string {
	const limit = 64
	kind := "number"
	switch {
	case len(raw) == 0:
		return "nothing"
	case raw[0] == '"':
		kind = "string"
	case raw[0] == '{':
		kind = "object"
	case raw[0] == '[':
		kind = "array"
	case raw[0] == 't' || raw[0] == 'f':
		kind = "boolean"
	case raw[0] == 'n':
		return "null"
	}
	shown := []byte(string(raw)) // a copy, since it is edited below
	if len(shown) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(shown[cut]) {
			cut--
		}
		shown = append(shown[:cut], "..."...)
	}
	// Valid JSON has raw control characters only as whitespace between tokens.
	for i, c := range shown {
		if c < 0x20 {
			shown[i] = ' '
		}
	}
	return kind + " " + string(shown)
}

// isToken reports whether s is an RFC 9110 token, the syntax of a header name.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// isFieldValue reports whether s can arrive as a header value through Envoy:
// non-empty, no control characters, and no surrounding whitespace (HTTP
// parsers strip it, so a value with it could never match).
func isFieldValue(s string) bool {
	if s == "" || s[0] == ' ' || s[0] == '\t' || s[len(s)-1] == ' ' || s[len(s)-1] == '\t' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
