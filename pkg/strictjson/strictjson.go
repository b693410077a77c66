// Package strictjson reads the exact bytes encoding/json writes for a
// known struct, and nothing else: members in the struct's order with its
// exact names, no whitespace, strings without escapes. Anything else (a
// record of another version, another writer's spelling, an escaped
// string) makes the read fail, and the caller decodes with encoding/json,
// so a value read here is always the one json.Unmarshal would give. The
// point is CPU: json.Unmarshal of a small record validates the input in a
// first pass and then walks it by reflection, several times the cost of
// this one pass.
package strictjson

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// Reader reads one JSON value from b. A failed step marks it failed and
// every later step is a no-op; OK tells at the end.
type Reader struct {
	b      []byte
	s      string // b as a string: every string read is a piece of it (one allocation)
	i      int
	failed bool
}

// NewReader reads b. The strings read share one copy of b.
func NewReader(b []byte) Reader { return Reader{b: b, s: string(b)} }

// OK reports whether every step matched and all of the input was read.
func (r *Reader) OK() bool { return !r.failed && r.i == len(r.b) }

func (r *Reader) fail() { r.failed = true }

// Lit reads the bytes s exactly: punctuation and member names, such as
// `{"tid":` or `,"exp":`.
func (r *Reader) Lit(s string) {
	if r.failed {
		return
	}
	if len(r.b)-r.i < len(s) || string(r.b[r.i:r.i+len(s)]) != s {
		r.fail()
		return
	}
	r.i += len(s)
}

// Opt reads s if it comes next (an omitempty member's name) and tells
// whether it did.
func (r *Reader) Opt(s string) bool {
	if r.failed || len(r.b)-r.i < len(s) || string(r.b[r.i:r.i+len(s)]) != s {
		return false
	}
	r.i += len(s)
	return true
}

// quoted reads a string without escapes and returns where it starts and
// ends (its quotes included). Its content is what encoding/json decodes
// without unquoting: no backslash, no control character, valid UTF-8.
func (r *Reader) quoted() (start, end int) {
	if r.failed || r.i >= len(r.b) || r.b[r.i] != '"' {
		r.fail()
		return 0, 0
	}
	start = r.i
	for i := r.i + 1; i < len(r.b); {
		c := r.b[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"':
				r.i = i + 1
				return start, r.i
			case c == '\\' || c < ' ':
				r.fail()
				return 0, 0
			}
			i++
			continue
		}
		c2, size := utf8.DecodeRune(r.b[i:])
		if c2 == utf8.RuneError && size == 1 {
			r.fail()
			return 0, 0
		}
		i += size
	}
	r.fail()
	return 0, 0
}

// String reads a JSON string (see quoted).
func (r *Reader) String() string {
	start, end := r.quoted()
	if r.failed {
		return ""
	}
	return r.s[start+1 : end-1]
}

// Strings reads null (nil) or an array of strings; [] is an empty,
// non-nil slice, as json.Unmarshal makes it.
func (r *Reader) Strings() []string {
	if r.Opt("null") {
		return nil
	}
	r.Lit("[")
	if r.failed {
		return nil
	}
	ss := make([]string, 0, 4) // scopes, methods: a few
	if r.Opt("]") {
		return ss
	}
	for {
		ss = append(ss, r.String())
		if r.failed || !r.Opt(",") {
			break
		}
	}
	r.Lit("]")
	return ss
}

// Bool reads true or false.
func (r *Reader) Bool() bool {
	if r.Opt("true") {
		return true
	}
	r.Lit("false")
	return false
}

// Uint reads an unsigned integer of bits bits as encoding/json writes it
// (digits, no leading zero); one that does not fit fails the read.
func (r *Reader) Uint(bits int) uint64 {
	if r.failed {
		return 0
	}
	start := r.i
	for r.i < len(r.b) && '0' <= r.b[r.i] && r.b[r.i] <= '9' {
		r.i++
	}
	digits := r.s[start:r.i]
	if digits == "" || digits[0] == '0' && len(digits) > 1 {
		r.fail()
		return 0
	}
	n, err := strconv.ParseUint(digits, 10, bits)
	if err != nil {
		r.fail()
		return 0
	}
	return n
}

// Time reads a string as time.Time's UnmarshalJSON does (it is given the
// same quoted bytes); its error fails the read.
func (r *Reader) Time() time.Time {
	var t time.Time
	start, end := r.quoted()
	if !r.failed && t.UnmarshalJSON(r.b[start:end]) != nil {
		r.fail()
	}
	return t
}
