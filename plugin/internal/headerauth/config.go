// Package headerauth holds the plugin's configuration and its decision, as
// plain Go with no proxy-wasm host calls, so that `go test` covers it
// without an emulator.
package headerauth

import (
	"bytes"
	"fmt"
	"slices"
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
	// KeyBuild is set by the stack, not by users: the image digest, which the
	// deny reply carries in BuildHeader so that a check can tell which build
	// answers (an older module, or Istio's deny-all stand-in, would not).
	KeyBuild = "build"
)

// BuildHeader is the deny reply's header that carries the configured build.
const BuildHeader = "x-wasm-plugin-build"

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

var allKeys = []string{KeyHeader, KeyValue, KeyDenyStatus, KeyDenyBody, KeyDenyContentType, KeyBuild}

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
	// Build, when set, is sent back in BuildHeader with every deny reply.
	Build string
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

// rawConfig holds each known key's value as written (nil when the key is
// absent), so that every key gets its own check and its own message, and an
// explicit null is seen rather than skipped.
type rawConfig struct {
	header, value, denyStatus, denyBody, denyContentType, build []byte
}

// slot is where the value of key goes, or nil for a key that is not known.
func (c *rawConfig) slot(key string) *[]byte {
	switch key {
	case KeyHeader:
		return &c.header
	case KeyValue:
		return &c.value
	case KeyDenyStatus:
		return &c.denyStatus
	case KeyDenyBody:
		return &c.denyBody
	case KeyDenyContentType:
		return &c.denyContentType
	case KeyBuild:
		return &c.build
	}
	return nil
}

// ParseConfig validates the JSON plugin configuration. Empty input (or only
// whitespace) gives Default. Any other problem is a *ConfigError: the caller
// must then refuse to start rather than guess.
func ParseConfig(data []byte) (Config, error) {
	cfg := Default()
	// This also drops Unicode spaces (\v, U+00A0, ...) around the document,
	// which JSON itself would refuse; it always did, so it still does.
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return cfg, nil
	}

	// The whole first value is checked before anything it says is looked at,
	// so that a syntax error is reported whatever comes before it.
	r := reader{data: data}
	var members []member
	if err := r.value(&members); err != nil {
		return Config{}, err
	}
	if data[0] != '{' {
		return Config{}, notAnObject(data[0])
	}
	raw, err := collectKeys(members)
	if err != nil {
		return Config{}, err
	}
	// Only after the keys, which is when the encoding/json version looked.
	r.space()
	if r.off < len(data) {
		return Config{}, &ConfigError{Got: "data after the JSON object", Want: wantObject}
	}

	if raw.header != nil {
		if cfg.Header, err = decodeString(KeyHeader, raw.header, wantHeader); err != nil {
			return Config{}, err
		}
		if !isToken(cfg.Header) {
			return Config{}, &ConfigError{Key: KeyHeader, Got: "got " + describe(raw.header), Want: wantHeader}
		}
		cfg.Header = strings.ToLower(cfg.Header)
	}
	if raw.value != nil {
		if cfg.Value, err = decodeString(KeyValue, raw.value, wantValue); err != nil {
			return Config{}, err
		}
		if !isFieldValue(cfg.Value) {
			return Config{}, &ConfigError{Key: KeyValue, Got: "got " + describe(raw.value), Want: wantValue}
		}
	}
	if raw.denyStatus != nil {
		if cfg.DenyStatus, err = decodeStatus(raw.denyStatus); err != nil {
			return Config{}, err
		}
	}
	if raw.denyBody != nil {
		if cfg.DenyBody, err = decodeString(KeyDenyBody, raw.denyBody, wantBody); err != nil {
			return Config{}, err
		}
	}
	if raw.denyContentType != nil {
		if cfg.DenyContentType, err = decodeString(KeyDenyContentType, raw.denyContentType, wantContentType); err != nil {
			return Config{}, err
		}
		if !isFieldValue(cfg.DenyContentType) {
			return Config{}, &ConfigError{Key: KeyDenyContentType, Got: "got " + describe(raw.denyContentType), Want: wantContentType}
		}
	}
	if raw.build != nil {
		if cfg.Build, err = decodeString(KeyBuild, raw.build, wantBuild); err != nil {
			return Config{}, err
		}
		if !isFieldValue(cfg.Build) {
			return Config{}, &ConfigError{Key: KeyBuild, Got: "got " + describe(raw.build), Want: wantBuild}
		}
	}
	return cfg, nil
}

const (
	wantObject      = "a JSON object with the keys header, value, denyStatus, denyBody, denyContentType, build (all optional)"
	wantBuild       = "a non-empty string without control characters or leading/trailing whitespace (the image digest)"
	wantHeader      = "a non-empty HTTP header name (letters, digits and !#$%&'*+-.^_`|~)"
	wantValue       = "a non-empty string without control characters or leading/trailing whitespace"
	wantBody        = "a string"
	wantContentType = "a non-empty string without control characters or leading/trailing whitespace"
	wantStatus      = "an integer from 200 to 599"
)

// notAnObject refuses a document that is a JSON value but not an object,
// given its first byte.
func notAnObject(first byte) error {
	got := "got a JSON number"
	switch first {
	case 'n':
		got = "got null"
	case 't', 'f':
		got = "got a JSON bool"
	case '"':
		got = "got a JSON string"
	case '[':
		got = "got a JSON array"
	}
	return &ConfigError{Got: got, Want: wantObject}
}

// collectKeys files the top-level members under their keys, refusing an
// unknown key and a key given twice. Which key a refusal names follows the
// encoding/json version of this parser: first a key that matches no known
// key even ignoring letter case (as its DisallowUnknownFields found them),
// and only then, in document order, a wrongly cased or repeated one.
func collectKeys(members []member) (rawConfig, error) {
	for _, m := range members {
		if !slices.ContainsFunc(allKeys, func(k string) bool { return strings.EqualFold(k, m.key) }) {
			return rawConfig{}, unknownKey(m.key)
		}
	}
	var raw rawConfig
	for _, m := range members {
		slot := raw.slot(m.key)
		if slot == nil {
			return rawConfig{}, unknownKey(m.key)
		}
		if *slot != nil { // a value as written is never empty
			return rawConfig{}, &ConfigError{Key: m.key, Got: "key given twice", Want: "each key at most once"}
		}
		*slot = m.value
	}
	return raw, nil
}

func unknownKey(key string) error {
	return &ConfigError{Key: key, Got: "unknown key", Want: "one of " + strings.Join(allKeys, ", ") + " (case-sensitive)"}
}

func decodeString(key string, raw []byte, want string) (string, error) {
	if raw[0] != '"' {
		return "", &ConfigError{Key: key, Got: "got " + describe(raw), Want: want}
	}
	return unquote(raw), nil
}

// decodeStatus takes only an integer literal: 403.0 and 4e2 are refused.
func decodeStatus(raw []byte) (uint32, error) {
	refused := &ConfigError{Key: KeyDenyStatus, Got: "got " + describe(raw), Want: wantStatus}
	var n uint32
	for _, c := range raw {
		// Stopping once n is past the range keeps a long literal from overflowing.
		if !isDigit(c) || n > MaxDenyStatus {
			return 0, refused
		}
		n = n*10 + uint32(c-'0')
	}
	if n < MinDenyStatus || n > MaxDenyStatus {
		return 0, refused
	}
	return n, nil
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
