package derive

import (
	"encoding/hex"
	"testing"
)

// The sub-keys are pinned: what was sealed, hashed or named under them
// must stay readable, so a change of the function fails here first. The
// values are HMAC-SHA256 as computed by another implementation (Python's
// hmac module).
func TestKeyIsPinned(t *testing.T) {
	for _, c := range []struct{ secret, purpose, want string }{
		{"configured secret", "guestpass/signing-keys/v1", "a63e4286ffbed85cf20a0af3263ad1eedc9fe8aa46d83c5b939d767c4cc57465"},
		{"", "", "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"},
	} {
		if got := hex.EncodeToString(Key([]byte(c.secret), c.purpose)); got != c.want {
			t.Errorf("Key(%q, %q) = %s, want %s", c.secret, c.purpose, got, c.want)
		}
	}
}

// One secret gives unrelated keys for different purposes, and the secret
// is not changed by deriving from it.
func TestPurposesDiffer(t *testing.T) {
	secret := []byte("s")
	a, b := Key(secret, "a"), Key(secret, "b")
	if hex.EncodeToString(a) == hex.EncodeToString(b) {
		t.Fatal("two purposes gave one key")
	}
	if string(secret) != "s" {
		t.Fatal("the secret changed")
	}
}
