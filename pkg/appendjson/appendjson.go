// Package appendjson appends JSON values to a byte slice exactly as
// encoding/json's Marshal writes them (HTML-safe strings, RFC 3339 times),
// for the few hot records and responses that are encoded by hand: a
// reflective Marshal of a small fixed struct costs several times the
// bytes it writes. Each hand-written encoder is tested against
// encoding/json's output, so the two cannot drift apart.
package appendjson

import (
	"strconv"
	"time"
	"unicode/utf8"
)

const hex = "0123456789abcdef"

// safe tells the bytes written as they are: the ASCII ones encoding/json
// does not escape in HTML-safe mode (a read-only table, as its htmlSafeSet).
var safe = func() (t [256]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\' && b != '<' && b != '>' && b != '&'
	}
	return t
}()

// skipSafe is the index of the first byte from i on that may need
// escaping, skipping 8 bytes at a time those that do not (tokens and ids
// are long runs of them). Per word (SWAR, "Bit Twiddling Hacks"), a byte
// is flagged when below 0x20, with its high bit set, or equal to ", \, <, >
// or &. A borrow across bytes may flag a safe word, which only sends it
// to the byte-wise path; an unsafe byte is never missed.
func skipSafe(s string, i int) int {
	const lsb, msb = 0x0101010101010101, 0x8080808080808080
	for ; i+8 <= len(s); i += 8 {
		w := s[i : i+8]
		x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
			uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
		q, bs, lt, gt, amp := x^(lsb*'"'), x^(lsb*'\\'), x^(lsb*'<'), x^(lsb*'>'), x^(lsb*'&')
		flags := (x-lsb*0x20)&^x | x | (q-lsb)&^q | (bs-lsb)&^bs | (lt-lsb)&^lt | (gt-lsb)&^gt | (amp-lsb)&^amp
		if flags&msb != 0 {
			break
		}
	}
	return i
}

// String appends s as a JSON string, escaped as encoding/json does by
// default: ", \ and control characters; <, > and & (HTML-safe); U+2028
// and U+2029; each invalid UTF-8 byte becomes \ufffd.
func String(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = Escaped(dst, s)
	return append(dst, '"')
}

// Escaped appends the inside of String(s), without the quotes: for a
// string written in pieces (escaping goes rune by rune, so the pieces of
// a string escape as the whole does when no rune spans two pieces).
func Escaped(dst []byte, s string) []byte {
	start := 0
	// Tokens and ids are long runs of safe bytes: skip them 8 at a time,
	// at the start and after each byte that is not simply copied (not
	// after every safe byte: in markup, words are short).
	for i := skipSafe(s, 0); i < len(s); {
		if safe[s[i]] {
			i++
			continue
		}
		if b := s[i]; b < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			i = skipSafe(s, i)
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			i = skipSafe(s, i)
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[c&0xF])
			i += size
			start = i
			i = skipSafe(s, i)
			continue
		}
		i += size
		i = skipSafe(s, i)
	}
	return append(dst, s[start:]...)
}

// Strings appends ss as a JSON array of strings; nil is null, as
// encoding/json writes a nil slice.
func Strings(dst []byte, ss []string) []byte {
	if ss == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '[')
	for i, s := range ss {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = String(dst, s)
	}
	return append(dst, ']')
}

// Time appends t as time.Time's MarshalJSON does (a quoted RFC 3339 time
// with nanoseconds). The error is MarshalText's, for a time RFC 3339
// cannot write (a year outside 0-9999); a caller then falls back to
// encoding/json, which reports it its own way.
func Time(dst []byte, t time.Time) ([]byte, error) {
	dst = append(dst, '"')
	dst, err := t.AppendText(dst)
	if err != nil {
		return dst, err
	}
	return append(dst, '"'), nil
}

// Int appends n in decimal.
func Int(dst []byte, n int64) []byte { return strconv.AppendInt(dst, n, 10) }

// Uint appends n in decimal.
func Uint(dst []byte, n uint64) []byte { return strconv.AppendUint(dst, n, 10) }
