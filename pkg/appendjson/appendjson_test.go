package appendjson_test

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/guestpass/guestpass/pkg/appendjson"
	"github.com/guestpass/guestpass/pkg/appendjson/appendjsontest"
)

func sameAsMarshal(t *testing.T, v any, got []byte, gotErr error) {
	t.Helper()
	want, err := json.Marshal(v)
	if (err != nil) != (gotErr != nil) {
		t.Fatalf("%#v: error %v, encoding/json's %v", v, gotErr, err)
	}
	if err == nil && string(got) != string(want) {
		t.Fatalf("%#v:\n got %s\nwant %s", v, got, want)
	}
}

func TestStringTable(t *testing.T) {
	for _, s := range []string{"", "plain", `a"b\c`, "<a href='x'>&amp;</a>", "\x00\x01\b\f\n\r\t\x1f\x7f",
		"line\u2028para\u2029", "é日本😀", "\xff\xfe", "a\xc3", "\xed\xa0\x80", "\ufffd", "/"} {
		sameAsMarshal(t, s, appendjson.String(nil, s), nil)
	}
}

func TestStringAllBytes(t *testing.T) {
	for b := range 256 {
		s := "x" + string([]byte{byte(b)}) + "y"
		sameAsMarshal(t, s, appendjson.String(nil, s), nil)
	}
}

// Every byte at every offset of a word, around runs of safe bytes (the
// 8-byte skip).
func TestStringWords(t *testing.T) {
	for b := range 256 {
		for p := range 17 {
			s := []byte(strings.Repeat("abcdefgh", 3))
			s[p] = byte(b)
			sameAsMarshal(t, string(s), appendjson.String(nil, string(s)), nil)
		}
	}
	// Bytes next to the flagged ones (borrows across bytes).
	for _, s := range []string{"\x20\x20\x20\x20\x20\x20\x20\x21", "!!!!!!!\x1f", "########", "\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f",
		"========", "????????", "''", "[[[[[[[[", "]]]]]]]]", "%%%%%%%%"} {
		sameAsMarshal(t, s, appendjson.String(nil, s), nil)
	}
}

func TestRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		s := appendjsontest.String(r)
		sameAsMarshal(t, s, appendjson.String([]byte{}, s), nil)
		ss := appendjsontest.Strings(r)
		sameAsMarshal(t, ss, appendjson.Strings(nil, ss), nil)
		tm := appendjsontest.Time(r)
		got, err := appendjson.Time(nil, tm)
		sameAsMarshal(t, tm, got, err)
	}
}

func TestScalars(t *testing.T) {
	for _, n := range []int64{0, 1, -1, 1 << 62, -1 << 63} {
		sameAsMarshal(t, n, appendjson.Int(nil, n), nil)
	}
	for _, n := range []uint64{0, 7, 1<<64 - 1} {
		sameAsMarshal(t, n, appendjson.Uint(nil, n), nil)
	}
	for _, tm := range []time.Time{{}, time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 1, 0, 0, 0, 1, time.FixedZone("odd", 3*3600+1800+17)),
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("far", 25*3600))} {
		got, err := appendjson.Time(nil, tm)
		sameAsMarshal(t, tm, got, err)
	}
}

func FuzzString(f *testing.F) {
	for _, s := range []string{"", "<>&", "\u2028", "\xff", `"\`, "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sameAsMarshal(t, s, appendjson.String(nil, s), nil)
	})
}

// benchString compares appendjson.String with json.Marshal on s.
func benchString(b *testing.B, s string) {
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(s)))
		for b.Loop() {
			_, _ = json.Marshal(s)
		}
	})
	b.Run("appendjson", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(s)))
		buf := make([]byte, 0, 2*len(s)+16)
		for b.Loop() {
			buf = appendjson.String(buf[:0], s)
		}
	})
}

func BenchmarkString(b *testing.B) { benchString(b, "Guest Name <guest@example.com> & co") }

// BenchmarkStringLong is a token's worth of base64url (no escapes).
func BenchmarkStringLong(b *testing.B) {
	benchString(b, strings.Repeat("eyJhbGciOiJFUzI1NiIsImtpZCI6Ij.", 40))
}

// BenchmarkStringMarkup is escape-dense text: HTML, with a <, > or & or a
// newline every ~12 bytes.
func BenchmarkStringMarkup(b *testing.B) {
	benchString(b, strings.Repeat("<p style=\"margin:0\">Your code &mdash; é</p>\n", 30))
}
