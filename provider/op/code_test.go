package op

import (
	"strings"
	"testing"

	"github.com/zitadel/oidc/v3/pkg/op"
)

// Codes are "id.secret"; a code of the library's JWE format, minted by a
// replica from before, still names its request for its last minutes.
func TestCodeNamesItsRequest(t *testing.T) {
	var key [32]byte
	copy(key[:], "0123456789abcdef0123456789abcdef")
	crypto := op.NewAESCrypto(key)
	s := &storage{decryptCode: crypto.Decrypt}
	const id = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"

	code, err := newCode(id)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.codeRequestID(code); got != id {
		t.Errorf("new code names %q, want %q", got, id)
	}
	if other, _ := newCode(id); other == code {
		t.Error("two codes of one request are equal")
	}
	legacy, err := op.BuildAuthRequestCode(&AuthRequest{ID: id}, crypto)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.codeRequestID(legacy); got != id {
		t.Errorf("library code names %q, want %q", got, id)
	}
	for _, bad := range []string{"", id, id + ".", id + ".short", "." + strings.Repeat("A", 43), "not.a.jwe.at.all"} {
		if got := s.codeRequestID(bad); got != "" {
			t.Errorf("%q names %q", bad, got)
		}
	}
}
