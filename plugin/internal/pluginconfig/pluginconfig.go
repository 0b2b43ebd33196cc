// Package pluginconfig reads a plugin's JSON configuration (Istio's
// pluginConfig) strictly and says exactly what is wrong with a bad one. It
// is shared by the plugins of this module and, like their decision logic,
// makes no proxy-wasm host calls.
package pluginconfig

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Error explains why a configuration was refused: which key (empty when the
// document as a whole is at fault), what was found, and what is accepted.
type Error struct {
	Key  string
	Got  string
	Want string
}

// Error joins the parts itself: a call of fmt.Sprintf anywhere in a plugin
// links fmt's printer and reflect, about 0.3 MB of the module, most of it
// code that Envoy compiles on every rollout (docs/benchmarks.md, "Issue #15
// item 3").
// strconv.Quote is what %q does with a string.
func (e *Error) Error() string {
	if e.Key == "" {
		return "plugin configuration: " + e.Got + ", want " + e.Want
	}
	return "plugin configuration key " + strconv.Quote(e.Key) + ": " + e.Got + ", want " + e.Want
}

// ParseObject reads data as one JSON object whose keys are all among keys,
// and returns each key's value as written (without the whitespace around
// it), so that the caller checks every value itself and an explicit null is
// seen rather than skipped. An absent key has no entry. Empty data, or only
// whitespace, is the empty object: a plugin without configuration.
//
// want describes the accepted document, for the errors about the document
// as a whole. The problems are reported in this order, whatever their place
// in the document (the order of the encoding/json version of this reader):
// a syntax error anywhere, a document that is not an object, a key that is
// not known, a key given twice, data after the object.
func ParseObject(data []byte, keys []string, want string) (map[string][]byte, error) {
	// This also drops Unicode spaces (\v, U+00A0, ...) around the document,
	// which JSON itself would refuse; it always did, so it still does.
	data = bytes.TrimSpace(data)
	values := make(map[string][]byte, len(keys))
	if len(data) == 0 {
		return values, nil
	}
	r := reader{data: data, want: want}
	var members []member
	if err := r.value(&members); err != nil {
		return nil, err
	}
	if data[0] != '{' {
		return nil, notAnObject(data[0], want)
	}
	if err := collectKeys(members, keys, values); err != nil {
		return nil, err
	}
	r.space()
	if r.off < len(data) {
		return nil, &Error{Got: "data after the JSON object", Want: want}
	}
	return values, nil
}

// notAnObject refuses a document that is a JSON value but not an object,
// given its first byte.
func notAnObject(first byte, want string) error {
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
	return &Error{Got: got, Want: want}
}

// collectKeys files the members under their keys in values, refusing an
// unknown key and a key given twice. Which key a refusal names follows the
// encoding/json version of this reader: first a key that matches no known
// key even ignoring letter case (as its DisallowUnknownFields found them),
// and only then, in document order, a wrongly cased or repeated one.
func collectKeys(members []member, keys []string, values map[string][]byte) error {
	for _, m := range members {
		if !slices.ContainsFunc(keys, func(k string) bool { return strings.EqualFold(k, m.key) }) {
			return UnknownKey(m.key, keys)
		}
	}
	for _, m := range members {
		if !slices.Contains(keys, m.key) {
			return UnknownKey(m.key, keys)
		}
		if _, twice := values[m.key]; twice {
			return &Error{Key: m.key, Got: "key given twice", Want: "each key at most once"}
		}
		values[m.key] = m.value
	}
	return nil
}

// UnknownKey is the refusal of a key that is not among keys.
func UnknownKey(key string, keys []string) error {
	return &Error{Key: key, Got: "unknown key", Want: "one of " + strings.Join(keys, ", ") + " (case-sensitive)"}
}

// String decodes raw, the value of key as ParseObject returned it, which
// must be a JSON string; want says what key accepts, for the error.
func String(key string, raw []byte, want string) (string, error) {
	if raw[0] != '"' {
		return "", &Error{Key: key, Got: "got " + Describe(raw), Want: want}
	}
	return unquote(raw), nil
}

// Describe names a raw JSON value's kind and shows it, shortened and on one
// line, for the log.
func Describe(raw []byte) string {
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

// IsToken reports whether s is an RFC 9110 token, the syntax of a header name.
func IsToken(s string) bool {
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

// LowerToken lower-cases s, which IsToken accepted: for those ASCII bytes it
// does what strings.ToLower does, without linking the Unicode case mapping
// that strings.ToLower carries for other input.
func LowerToken(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

// IsFieldValue reports whether s can arrive as a header value through Envoy:
// non-empty, no control characters, and no surrounding whitespace (HTTP
// parsers strip it, so a value with it could never match).
func IsFieldValue(s string) bool {
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
