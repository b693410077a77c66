package store_test

import (
	"strings"
	"testing"

	"github.com/guestpass/guestpass/pkg/store"
)

// Key and TagKey build exactly the names they always built (stored keys
// of every replica), whatever the number of parts, empty ones included.
func TestKeyNamesUnchanged(t *testing.T) {
	for _, parts := range [][]string{nil, {}, {"otp"}, {"otp", "code", "v2", "0123456789abcdef0123456789abcdef"}, {"", "x", ""}} {
		for _, tenant := range []string{"fabrikam", "3fa85f64-5717-4562-b3fc-2c963f66afa6", ""} {
			want := "{" + tenant + "}"
			for _, p := range parts {
				want += ":" + p
			}
			if got := store.Key(tenant, parts...); got != want {
				t.Errorf("Key(%q, %q) = %q, want %q", tenant, parts, got, want)
			}
			for _, tag := range []string{"", "3f2a", "a:b"} {
				want := "{" + tenant + ":" + tag + "}"
				for _, p := range parts {
					want += ":" + p
				}
				if got := store.TagKey(tenant, tag, parts...); got != want {
					t.Errorf("TagKey(%q, %q, %q) = %q, want %q", tenant, tag, parts, got, want)
				}
			}
		}
	}
}

// A key is one allocation: the string itself.
func TestKeyAllocatesOnce(t *testing.T) {
	id := strings.Repeat("ab", 16)
	if n := testing.AllocsPerRun(100, func() { _ = store.Key("fabrikam", "otp", "code", "v2", id) }); n != 1 {
		t.Errorf("Key: %v allocations", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = store.TagKey("fabrikam", id, "authreq") }); n != 1 {
		t.Errorf("TagKey: %v allocations", n)
	}
}

// BenchmarkKey builds a passcode record's key and an auth request's.
//
//	go test -run '^$' -bench BenchmarkKey -benchmem ./pkg/store
func BenchmarkKey(b *testing.B) {
	id := strings.Repeat("ab", 16)
	b.ReportAllocs()
	for b.Loop() {
		_ = store.Key("fabrikam", "otp", "code", "v2", id)
		_ = store.TagKey("fabrikam", id, "authreq")
	}
}
