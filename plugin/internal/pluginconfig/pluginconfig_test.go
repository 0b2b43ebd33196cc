package pluginconfig

// The JSON reader is held to encoding/json's decisions by headerauth's
// FuzzParseConfigMatchesReference; these tests pin what each plugin relies
// on directly.

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

var keys = []string{"name", "value"}

const want = "a JSON object with the keys name, value"

func TestParseObjectReturnsValuesAsWritten(t *testing.T) {
	got, err := ParseObject([]byte(" {\"value\" : [1, 2] ,\n\"name\":\"x\\u0041\"} \n"), keys, want)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || string(got["name"]) != `"x\u0041"` || string(got["value"]) != "[1, 2]" {
		t.Errorf("ParseObject = %q", got)
	}
	if s, err := String("name", got["name"], "a string"); err != nil || s != "xA" {
		t.Errorf("String = %q, %v", s, err)
	}
	if _, err := String("value", got["value"], "a string"); err == nil || !strings.Contains(err.Error(), `got array [1, 2], want a string`) {
		t.Errorf("String(array) = %v", err)
	}
}

func TestParseObjectEmptyIsNoKeys(t *testing.T) {
	for _, in := range []string{"", " \n", "{}", "\u00a0{ }"} {
		got, err := ParseObject([]byte(in), keys, want)
		if err != nil || got == nil || len(got) != 0 {
			t.Errorf("ParseObject(%q) = %q, %v; want no keys", in, got, err)
		}
	}
}

func TestParseObjectRefusals(t *testing.T) {
	cases := []struct {
		in, key, got string
	}{
		{`{"name": 1, "extra": 2}`, "extra", "unknown key"},
		{`{"Name": 1}`, "Name", "unknown key"},
		// An unknown key is named before a repeated one, wherever it is.
		{`{"name": 1, "name": 2, "extra": 3}`, "extra", "unknown key"},
		{`{"name": 1, "name": 2}`, "name", "key given twice"},
		// A syntax error wins over everything, wherever it is.
		{`{"extra": 1, "name": }`, "", "invalid JSON at byte 22"},
		{`{"name": 1`, "", "truncated JSON"},
		{`[{"name": 1}]`, "", "got a JSON array"},
		{`"name"`, "", "got a JSON string"},
		{`{"extra": 1} x`, "extra", "unknown key"},
		{`{"name": 1} x`, "", "data after the JSON object"},
	}
	for _, c := range cases {
		got, err := ParseObject([]byte(c.in), keys, want)
		var perr *Error
		if !errors.As(err, &perr) || got != nil {
			t.Errorf("ParseObject(%s) = %q, %v; want an *Error", c.in, got, err)
			continue
		}
		if perr.Key != c.key || !strings.HasPrefix(perr.Got, c.got) {
			t.Errorf("ParseObject(%s): %q; want key %q and %q", c.in, err, c.key, c.got)
		}
		if perr.Key == "" && perr.Want != want {
			t.Errorf("ParseObject(%s): %q does not say what is accepted", c.in, err)
		}
	}
	err := UnknownKey("x", keys)
	if err.Error() != `plugin configuration key "x": unknown key, want one of name, value (case-sensitive)` {
		t.Errorf("UnknownKey: %q", err)
	}
}

func TestDescribeShortensLongValues(t *testing.T) {
	long := `"` + strings.Repeat("é", 100) + `"`
	got := Describe([]byte(long))
	if !strings.HasPrefix(got, `string "éé`) || !strings.HasSuffix(got, "...") || len(got) > 80 {
		t.Errorf("Describe(long string) = %q", got)
	}
	if !strings.Contains(Describe([]byte("{\n\"a\": 1}")), `object { "a": 1}`) {
		t.Errorf("Describe keeps newlines: %q", Describe([]byte("{\n\"a\": 1}")))
	}
}

func TestHeaderSyntax(t *testing.T) {
	for s, ok := range map[string]bool{
		"x-asm-plugin-chain": true, "X_Y.z~1": true, "": false, "a b": false, ":status": false, "a:": false, "é": false,
	} {
		if IsToken(s) != ok {
			t.Errorf("IsToken(%q) = %v", s, !ok)
		}
	}
	for s, ok := range map[string]bool{
		"response-header": true, "a b": true, "a\tb": true, "é": true, "": false, " a": false, "a\t": false,
		"a\r\nb: c": false, "a\x00": false, "a\x7f": false,
	} {
		if IsFieldValue(s) != ok {
			t.Errorf("IsFieldValue(%q) = %v", s, !ok)
		}
	}
}

func TestLowerTokenIsToLowerOnTokens(t *testing.T) {
	tokens := []string{"allow", "ALLOW", "X-Api-Key", "a!#$%&'*+-.^_`|~Z09"}
	for c := range 256 {
		tokens = append(tokens, string([]byte{byte(c)}))
	}
	for _, s := range tokens {
		if !IsToken(s) {
			continue
		}
		if got, want := LowerToken(s), strings.ToLower(s); got != want {
			t.Errorf("LowerToken(%q) = %q, want %q as strings.ToLower", s, got, want)
		}
	}
}

// The messages are built without fmt (Error says why); these hold them to
// what the fmt formats they replace gave.
func TestMessagesAsFmtMadeThem(t *testing.T) {
	for c := range 256 {
		want := fmt.Sprintf("byte 0x%02x", c)
		if c < 0x80 {
			want = fmt.Sprintf("%q", rune(c))
		}
		if got := quoteByte(byte(c)); got != want {
			t.Errorf("quoteByte(%#x) = %q, want %q", c, got, want)
		}
	}
	for _, e := range []Error{
		{Got: "truncated JSON", Want: "an object"},
		{Key: "name", Got: "got number 1", Want: "a string"},
		{Key: "na\"me\u00e9\x01", Got: "", Want: ""},
	} {
		want := fmt.Sprintf("plugin configuration key %q: %s, want %s", e.Key, e.Got, e.Want)
		if e.Key == "" {
			want = fmt.Sprintf("plugin configuration: %s, want %s", e.Got, e.Want)
		}
		if got := e.Error(); got != want {
			t.Errorf("Error() = %q, want %q", got, want)
		}
	}
}
