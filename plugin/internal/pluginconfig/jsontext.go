package pluginconfig

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// A plugin's configuration is one small JSON document read once, at start.
// It used to go through encoding/json, whose reflection-driven decoder made
// up 0.7 MB of the 3.5 MB plugin.wasm, and Envoy's compile time of the module
// grows with its size. This reader does only what ParseObject needs: it
// checks the syntax of a whole value (RFC 8259) and hands back the top-level
// object's members undecoded. Where encoding/json made a choice (the nesting
// limit, how broken UTF-8 and lone surrogates decode, where a syntax error is
// counted from), it makes the same one, and headerauth's
// FuzzParseConfigMatchesReference holds it to that.

// MaxDepth is how many arrays and objects may be open at once. encoding/json
// refuses deeper documents as a syntax error, and so does this reader; it
// also bounds the reader's recursion.
const MaxDepth = 10000

// member is one key of the top-level object and its value.
type member struct {
	key   string // decoded
	value []byte // as written, without the whitespace around it
}

// reader checks the JSON syntax of data from off on.
type reader struct {
	data  []byte
	off   int    // the next byte to read
	depth int    // arrays and objects open around off
	want  string // what the document should be, for the error
}

// peek returns the next byte, or 0 at the end of data: a 0 byte is invalid
// everywhere in JSON, so the end fails the same checks and fail tells the two
// apart.
func (r *reader) peek() byte {
	if r.off < len(r.data) {
		return r.data[r.off]
	}
	return 0
}

// fail reports that the byte at off does not fit here (context says what
// was being read), or that the document ends too early.
func (r *reader) fail(context string) error {
	if r.off >= len(r.data) {
		return &Error{Got: "truncated JSON", Want: r.want}
	}
	// Counted as encoding/json counted it, the bad byte included, so that the
	// position in the message did not move.
	return &Error{
		Got:  "invalid JSON at byte " + strconv.Itoa(r.off+1) + " (unexpected " + quoteByte(r.data[r.off]) + " " + context + ")",
		Want: r.want,
	}
}

// quoteByte shows a byte on one line of log: ASCII as a Go character
// literal, anything else by its code, since one byte of a multi-byte UTF-8
// sequence is no character of its own. (Two hex digits by hand: the
// plugins link no fmt, see Error.)
func quoteByte(c byte) string {
	if c < utf8.RuneSelf {
		return strconv.QuoteRune(rune(c))
	}
	const hex = "0123456789abcdef"
	return "byte 0x" + string([]byte{hex[c>>4], hex[c&0xf]})
}

// space skips JSON whitespace (and only that: no \v, \f or Unicode spaces).
func (r *reader) space() {
	for r.off < len(r.data) {
		switch r.data[r.off] {
		case ' ', '\t', '\n', '\r':
			r.off++
		default:
			return
		}
	}
}

// value reads one value starting at off. If it is an object and members is
// not nil, its members are appended there; values nested deeper are only
// checked.
func (r *reader) value(members *[]member) error {
	switch c := r.peek(); {
	case c == '{':
		return r.object(members)
	case c == '[':
		return r.array()
	case c == '"':
		return r.str()
	case c == '-' || isDigit(c):
		return r.number()
	case c == 't':
		return r.literal("true")
	case c == 'f':
		return r.literal("false")
	case c == 'n':
		return r.literal("null")
	}
	return r.fail("where a value should start")
}

// open steps into the array or object whose bracket is at off.
func (r *reader) open() error {
	if r.depth == MaxDepth {
		return r.fail("nested more than " + strconv.Itoa(MaxDepth) + " deep")
	}
	r.depth++
	r.off++
	r.space()
	return nil
}

// close steps out of the array or object whose closing bracket is at off.
func (r *reader) close() {
	r.depth--
	r.off++
}

func (r *reader) object(members *[]member) error {
	if err := r.open(); err != nil {
		return err
	}
	if r.peek() == '}' {
		r.close()
		return nil
	}
	for {
		if r.peek() != '"' {
			return r.fail("where a key should start")
		}
		keyStart := r.off
		if err := r.str(); err != nil {
			return err
		}
		key := r.data[keyStart:r.off]
		r.space()
		if r.peek() != ':' {
			return r.fail("after a key (want ':')")
		}
		r.off++
		r.space()
		valueStart := r.off
		if err := r.value(nil); err != nil {
			return err
		}
		if members != nil {
			*members = append(*members, member{key: unquote(key), value: r.data[valueStart:r.off]})
		}
		r.space()
		switch r.peek() {
		case ',':
			r.off++
			r.space()
		case '}':
			r.close()
			return nil
		default:
			return r.fail("after an object member (want ',' or '}')")
		}
	}
}

func (r *reader) array() error {
	if err := r.open(); err != nil {
		return err
	}
	if r.peek() == ']' {
		r.close()
		return nil
	}
	for {
		if err := r.value(nil); err != nil {
			return err
		}
		r.space()
		switch r.peek() {
		case ',':
			r.off++
			r.space()
		case ']':
			r.close()
			return nil
		default:
			return r.fail("after an array element (want ',' or ']')")
		}
	}
}

// str reads a string, quotes included. Bytes from 0x80 up are not checked
// here: unquote turns invalid UTF-8 into U+FFFD, as encoding/json does.
func (r *reader) str() error {
	r.off++
	for {
		switch c := r.peek(); {
		case c == '"':
			r.off++
			return nil
		case c == '\\':
			r.off++
			switch r.peek() {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				r.off++
			case 'u':
				r.off++
				for range 4 {
					if hexValue(r.peek()) < 0 {
						return r.fail(`in a \u escape`)
					}
					r.off++
				}
			default:
				return r.fail("in an escape")
			}
		case c < 0x20: // a raw control character, or the end of data
			return r.fail("in a string")
		default:
			r.off++
		}
	}
}

// number reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? and leaves what
// follows to the caller.
func (r *reader) number() error {
	if r.peek() == '-' {
		r.off++
	}
	switch c := r.peek(); {
	case c == '0':
		r.off++
	case '1' <= c && c <= '9':
		r.digits()
	default:
		return r.fail("in a number")
	}
	if r.peek() == '.' {
		r.off++
		if !isDigit(r.peek()) {
			return r.fail("in a number")
		}
		r.digits()
	}
	if c := r.peek(); c == 'e' || c == 'E' {
		r.off++
		if c := r.peek(); c == '+' || c == '-' {
			r.off++
		}
		if !isDigit(r.peek()) {
			return r.fail("in a number")
		}
		r.digits()
	}
	return nil
}

func (r *reader) digits() {
	for isDigit(r.peek()) {
		r.off++
	}
}

func (r *reader) literal(word string) error {
	for i := 0; i < len(word); i++ {
		if r.peek() != word[i] {
			return r.fail("in " + word)
		}
		r.off++
	}
	return nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// hexValue is the value of a hexadecimal digit, or -1 for any other byte.
func hexValue(c byte) rune {
	switch {
	case '0' <= c && c <= '9':
		return rune(c - '0')
	case 'a' <= c && c <= 'f':
		return rune(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return rune(c-'A') + 10
	}
	return -1
}

// unquote decodes a string that str has accepted, quotes included. It always
// gives valid UTF-8, as encoding/json does: each byte of an invalid UTF-8
// sequence, and each \u escape of a surrogate that is not the first half of
// an escaped pair, becomes U+FFFD.
func unquote(quoted []byte) string {
	s := quoted[1 : len(quoted)-1]
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\' && s[i+1] == 'u':
			r := u4(s[i+2:])
			i += 6
			if utf16.IsSurrogate(r) {
				first := r
				r = utf8.RuneError
				if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
					if pair := utf16.DecodeRune(first, u4(s[i+2:])); pair != utf8.RuneError {
						r = pair
						i += 6 // the second half is used up; otherwise it is read on its own
					}
				}
			}
			out = utf8.AppendRune(out, r)
		case c == '\\':
			out = append(out, unescape(s[i+1]))
			i += 2
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, n := utf8.DecodeRune(s[i:])
			out = utf8.AppendRune(out, r)
			i += n
		}
	}
	return string(out)
}

// u4 is the code unit of the four hex digits str has checked at the start of s.
func u4(s []byte) rune {
	return hexValue(s[0])<<12 | hexValue(s[1])<<8 | hexValue(s[2])<<4 | hexValue(s[3])
}

// unescape is the byte a one-letter escape stands for; str has checked it is one.
func unescape(c byte) byte {
	switch c {
	case 'b':
		return '\b'
	case 'f':
		return '\f'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	}
	return c // '"', '\\' and '/' stand for themselves
}
