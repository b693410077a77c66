package session

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

// newID, validID and stateCookieName, built in arrays, answer as their
// plain forms did (ids_alloc_test.go counts their allocations).
func TestIDsAsBefore(t *testing.T) {
	id, err := newID()
	if err != nil {
		t.Fatal(err)
	}
	if b, err := base64.RawURLEncoding.DecodeString(id); err != nil || len(b) != idBytes || len(id) != idLen {
		t.Fatalf("newID = %q", id)
	}
	old := func(s string) bool {
		b, err := base64.RawURLEncoding.DecodeString(s)
		return err == nil && len(b) == idBytes
	}
	for _, s := range []string{id, id[:idLen-1], id + "A", id[:20] + "\n" + id[20:], id[:20] + "\r\n" + id[20:], id[:idLen-1] + "=",
		strings.Repeat("A", idLen), strings.Repeat("_", idLen), strings.Repeat("+", idLen), "", id[:idLen-1] + "B"} {
		if got, want := validID(s), old(s); got != want {
			t.Errorf("validID(%q) = %v, want %v", s, got, want)
		}
	}
	key := "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
	for _, k := range []string{"", key, strings.Repeat("k", 64), strings.Repeat("k", 65), strings.Repeat("long", 100)} {
		h := sha256.Sum256([]byte(k))
		if got, want := stateCookieName(k), stateCookiePrefix+hex.EncodeToString(h[:6]); got != want {
			t.Errorf("stateCookieName(%q) = %q, want %q", k, got, want)
		}
	}
}
