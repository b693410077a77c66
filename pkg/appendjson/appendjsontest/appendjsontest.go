// Package appendjsontest makes random values for tests that compare a
// hand-written JSON encoder with encoding/json: strings with what JSON
// escapes (quotes, backslashes, control characters, <, >, &, U+2028,
// U+2029, invalid UTF-8), nil and empty slices, zero and zoned times.
package appendjsontest

import (
	"math/rand/v2"
	"strings"
	"time"
)

// pieces are what random strings are made of: every case of the escaper.
var pieces = []string{
	"", "a", "Z", "0", " ", "guest@example.com", "fabrikam", `"`, `\`, "/", "<", ">", "&", "<script>",
	"\x00", "\x01", "\x1f", "\x7f", "\b", "\f", "\n", "\r", "\t", "é", "日本", "😀", "\u2028", "\u2029",
	"\u2027", "\ufffd", "\xff", "\xc3", "\xe2\x80", "\xed\xa0\x80", "'", "+", "=", ".", "-", "_",
}

// String is a random string of up to 8 pieces; sometimes one random byte
// sequence.
func String(r *rand.Rand) string {
	if r.IntN(8) == 0 {
		b := make([]byte, r.IntN(12))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return string(b)
	}
	var sb strings.Builder
	for range r.IntN(9) {
		sb.WriteString(pieces[r.IntN(len(pieces))])
	}
	return sb.String()
}

// Strings is nil, empty or a few random strings.
func Strings(r *rand.Rand) []string {
	switch r.IntN(4) {
	case 0:
		return nil
	case 1:
		return []string{}
	}
	ss := make([]string, 1+r.IntN(4))
	for i := range ss {
		ss[i] = String(r)
	}
	return ss
}

// Time is the zero time, or a time with or without nanoseconds, in UTC
// or another zone; rarely a year RFC 3339 cannot write.
func Time(r *rand.Rand) time.Time {
	switch r.IntN(8) {
	case 0:
		return time.Time{}
	case 1:
		return time.Date(10000+r.IntN(100), 1, 2, 3, 4, 5, 0, time.UTC)
	}
	t := time.Unix(r.Int64N(4e9), 0)
	if r.IntN(2) == 0 {
		t = t.Add(time.Duration(r.IntN(1e9)))
	}
	switch r.IntN(3) {
	case 0:
		return t.UTC()
	case 1:
		return t.In(time.FixedZone("x", (r.IntN(48)-24)*1800))
	}
	return t
}
