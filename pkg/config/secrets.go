package config

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
)

func randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("read random bytes: %w", err)
	}
	return b, nil
}

// GenerateSecrets returns shell export lines with a fresh set of secrets,
// base64 (standard encoding): a 64-byte cookie hash key (HMAC-SHA512 size),
// a 32-byte cookie block key (AES-256) and a 32-byte passcode HMAC key.
// `guestpass gen-secrets` prints it.
func GenerateSecrets() (string, error) {
	var b strings.Builder
	for _, s := range []struct {
		env string
		n   int
	}{
		{"GUESTPASS_COOKIE_HASH_KEY", 64},
		{"GUESTPASS_COOKIE_BLOCK_KEY", 32},
		{"GUESTPASS_CODE_KEY", 32},
	} {
		k, err := randomBytes(s.n)
		if err != nil {
			return "", fmt.Errorf("config: generate %s: %w", s.env, err)
		}
		fmt.Fprintf(&b, "export %s='%s'\n", s.env, base64.StdEncoding.EncodeToString(k))
	}
	return b.String(), nil
}
