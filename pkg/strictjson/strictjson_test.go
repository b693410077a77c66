package strictjson_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/guestpass/guestpass/pkg/strictjson"
)

// same fails unless, when the reader takes in (all of it, no failure),
// json.Unmarshal into a T gives the same value; it tells whether it took.
func same[T any](t *testing.T, in string, read func(*strictjson.Reader) T) bool {
	t.Helper()
	r := strictjson.NewReader([]byte(in))
	got := read(&r)
	if !r.OK() {
		return false
	}
	var want T
	if err := json.Unmarshal([]byte(in), &want); err != nil {
		t.Fatalf("%q: read as %#v, but json.Unmarshal fails: %v", in, got, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: read %#v, json.Unmarshal %#v", in, got, want)
	}
	return true
}

func TestValues(t *testing.T) {
	str := func(r *strictjson.Reader) string { return r.String() }
	strs := func(r *strictjson.Reader) []string { return r.Strings() }
	boolean := func(r *strictjson.Reader) bool { return r.Bool() }
	tm := func(r *strictjson.Reader) time.Time { return r.Time() }
	u64 := func(r *strictjson.Reader) uint64 { return r.Uint(64) }
	u8 := func(r *strictjson.Reader) uint8 { return uint8(r.Uint(8)) }
	for _, tc := range []struct {
		in   string
		take bool
		read func(string) bool
	}{
		{`""`, true, func(in string) bool { return same(t, in, str) }},
		{`"plain ä 日本 😀 \ufffd"`, false, func(in string) bool { return same(t, in, str) }}, // an escape
		{"\"plain ä 日本 😀 \uFFFD\"", true, func(in string) bool { return same(t, in, str) }},
		{`"a\"b"`, false, func(in string) bool { return same(t, in, str) }},
		{"\"a\xffb\"", false, func(in string) bool { return same(t, in, str) }},
		{"\"a\x01b\"", false, func(in string) bool { return same(t, in, str) }},
		{`"open`, false, func(in string) bool { return same(t, in, str) }},
		{`null`, true, func(in string) bool { return same(t, in, strs) }},
		{`[]`, true, func(in string) bool { return same(t, in, strs) }},
		{`["a","b","c","d","e"]`, true, func(in string) bool { return same(t, in, strs) }},
		{`["a",]`, false, func(in string) bool { return same(t, in, strs) }},
		{`[ "a"]`, false, func(in string) bool { return same(t, in, strs) }},
		{`true`, true, func(in string) bool { return same(t, in, boolean) }},
		{`false`, true, func(in string) bool { return same(t, in, boolean) }},
		{`"2026-11-29T20:00:00.5+01:00"`, true, func(in string) bool { return same(t, in, tm) }},
		{`"0001-01-01T00:00:00Z"`, true, func(in string) bool { return same(t, in, tm) }},
		{`"2026-11-29"`, false, func(in string) bool { return same(t, in, tm) }},
		{`null`, false, func(in string) bool { return same(t, in, tm) }},
		{`0`, true, func(in string) bool { return same(t, in, u64) }},
		{`300`, true, func(in string) bool { return same(t, in, u64) }},
		{`18446744073709551615`, true, func(in string) bool { return same(t, in, u64) }},
		{`18446744073709551616`, false, func(in string) bool { return same(t, in, u64) }},
		{`00`, false, func(in string) bool { return same(t, in, u64) }},
		{`-1`, false, func(in string) bool { return same(t, in, u64) }},
		{`1e2`, false, func(in string) bool { return same(t, in, u64) }},
		{`1.0`, false, func(in string) bool { return same(t, in, u64) }},
		{``, false, func(in string) bool { return same(t, in, u64) }},
		{`255`, true, func(in string) bool { return same(t, in, u8) }},
		{`256`, false, func(in string) bool { return same(t, in, u8) }},
	} {
		if took := tc.read(tc.in); took != tc.take {
			t.Fatalf("%q: taken %v, want %v", tc.in, took, tc.take)
		}
	}
}

func FuzzString(f *testing.F) {
	for _, s := range []string{`""`, `"a"`, `"\u00e9"`, "\"\xff\"", `"a\"`, `"é😀"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		same(t, in, func(r *strictjson.Reader) string { return r.String() })
		same(t, in, func(r *strictjson.Reader) []string { return r.Strings() })
	})
}
