package server

import (
	"regexp"
	"strings"
	"testing"
)

// validRequestID is the pattern it replaced, without a regexp per request.
func TestValidRequestID(t *testing.T) {
	pattern := regexp.MustCompile(`^[A-Za-z0-9._-]{8,64}$`)
	for _, id := range []string{"", "short", "abcdefgh", "trace-0001-abcdef", "a.b_c-D9x", strings.Repeat("a", 64),
		strings.Repeat("a", 65), "bad id\twith spaces", "ünicode-id", "id/with/slash", "id\nnewline-x", "1234567"} {
		if got, want := validRequestID(id), pattern.MatchString(id); got != want {
			t.Errorf("validRequestID(%q) = %v, want %v", id, got, want)
		}
	}
}
