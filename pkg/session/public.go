package session

import (
	"crypto/sha256"
	"encoding/hex"
)

// PublicID is a session's sid claim: derived from the session id, so apps
// can tell sessions apart (and name one in an id_token_hint at logout)
// without holding the secret id itself.
func PublicID(id string) string {
	s := sha256.Sum256([]byte("sid|" + id))
	return hex.EncodeToString(s[:16])
}
