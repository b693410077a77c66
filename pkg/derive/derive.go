// Package derive makes purpose-bound sub-keys of the configured secrets,
// so that one secret never keys two things directly: a key learnt from
// one use (a sealed signing key, an invitation hash) says nothing about
// another's.
//
// A sub-key is HMAC-SHA256(secret, purpose). What it keys is stored under
// it (signing keys sealed, invitation tokens hashed, guest records named),
// so the function and every purpose string are fixed for good: changing
// either orphans what was stored.
package derive

import (
	"crypto/hmac"
	"crypto/sha256"
)

// Key returns the sub-key of secret for purpose (32 bytes).
func Key(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}
