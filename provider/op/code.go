package op

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/guestpass/guestpass/pkg/store"
)

// An authorization code is spent only by the request that may spend it:
// its own client, authenticated, with the right PKCE verifier and
// redirect_uri. The stored code record is a digest over all of these, so
// the store's compare-and-swap checks them and takes the code in one
// atomic step: a request with anything wrong finds no match and leaves
// the code for the real client; of several right ones exactly one wins.

// newCode mints an authorization code for request id: "id.secret", 256
// random bits. The id is no secret (it is in the sign-in pages' URLs); it
// names the records, and the secret is what the stored binding hashes, so
// a code cannot be guessed from the id. Codes used to be the library's
// JWE of the id (two AES-GCM operations and JSON each way); a code minted
// so before an upgrade is still read (codeRequestID) for its ten minutes.
func newCode(id string) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("code: %w", err)
	}
	return id + "." + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// codeRequestID is the auth request id a code names ("" for none).
func (s *storage) codeRequestID(code string) string {
	if id, secret, ok := strings.Cut(code, "."); ok && !strings.Contains(secret, ".") {
		if uuid.Validate(id) != nil || len(secret) != 43 {
			return ""
		}
		return id
	}
	if s.decryptCode == nil {
		return ""
	}
	id, err := s.decryptCode(code) // a library code of before
	if err != nil || uuid.Validate(id) != nil {
		return "" // the library's decryption does not authenticate
	}
	return id
}

// codeBinding is the stored code record: a digest of the code and what a
// token request must present with it. challenge is the S256 challenge
// ("" when the request had no PKCE).
func codeBinding(code, clientID, challenge, redirectURI string) []byte {
	return []byte(hashToken(strings.Join([]string{"code", code, clientID, challenge, redirectURI}, "\x00")))
}

// s256 is the PKCE S256 transformation of a verifier ("" for none).
func s256(verifier string) string {
	if verifier == "" {
		return ""
	}
	h := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// SaveAuthCode is the library's way to save a code; our callback saves
// codes with saveAuthCode, as it has the request in hand already.
func (s *storage) SaveAuthCode(ctx context.Context, id, code string) error {
	a, err := s.authRequest(ctx, id)
	if err != nil {
		return fmt.Errorf("save code: %w", err)
	}
	return s.saveAuthCode(ctx, a, code)
}

// saveAuthCode keeps the binding of the latest code of a loaded auth
// request (a newer code replaces it): one write.
func (s *storage) saveAuthCode(ctx context.Context, a *AuthRequest, code string) error {
	op := s.saveAuthCodeOp(a, code)
	return s.st.Set(ctx, op.Key, op.Value, op.TTL)
}

// saveAuthCodeOp is saveAuthCode as an op of a batch.
func (s *storage) saveAuthCodeOp(a *AuthRequest, code string) *store.Op {
	challenge := ""
	if a.CodeChallenge != nil {
		challenge = a.CodeChallenge.Challenge
	}
	return store.SetOp(s.k("code", a.ID), codeBinding(code, a.ClientID, challenge, a.RedirectURI), authCodeTTL)
}

// redeemCode takes the code for an authenticated client c: one round trip
// that swaps the code record out only if it matches this request, reads
// the auth request, and reads the marker of an earlier redemption. The request is deleted with the tokens' save
// (redeemOps), so the browser cannot mint another code for it.
func (s *storage) redeemCode(ctx context.Context, code string, c *client, verifier, redirectURI string) (*AuthRequest, error) {
	invalid := invalidGrant("invalid or used code, or it was issued with another client, redirect_uri or code_challenge")
	id := s.codeRequestID(code) // a UUID, or ""
	if id == "" {
		return nil, invalid
	}
	take := store.CompareAndSwapOp(s.k("code", id), codeBinding(code, c.cfg.ID, s256(verifier), redirectURI), nil, 0)
	read := store.GetOp(s.k("authreq", id))
	used := store.GetOp(s.usedCodeKey(id))
	if err := s.st.Pipeline(ctx, take, read, used); err != nil {
		return nil, fmt.Errorf("redeem code: %w", err)
	}
	if !take.OK && used.Err == nil {
		// Redeemed before: revoke what it produced (codereuse.go).
		if err := s.revokeReusedCode(ctx, used.Val, code); err != nil {
			return nil, err
		}
		return nil, invalid
	}
	if take.Err != nil || !take.OK || read.Err != nil {
		return nil, invalid
	}
	var a AuthRequest
	if err := decodeAuthRequestJSON(read.Val, &a); err != nil {
		return nil, fmt.Errorf("decode auth request: %w", err)
	}
	// The binding already covers client and redirect_uri; these checks
	// keep a stale or foreign record from ever becoming tokens.
	if a.Tenant != s.tenant || !a.Done() || a.ClientID != c.cfg.ID || a.RedirectURI != redirectURI {
		return nil, invalid
	}
	a.redeemedCode = hashToken(code)
	return &a, nil
}
