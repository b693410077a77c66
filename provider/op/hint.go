package op

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// errNotIDToken: a token of ours that is not an ID token (an access token
// is a JWT signed by the same keys) was given as id_token_hint.
var errNotIDToken = errors.New("id_token_hint is not an ID token")

// verifyIDTokenHint checks an id_token_hint: issued by this tenant, signed
// by its keys, and an ID token. Expired hints are accepted, as by the
// library: a hint names who the app believes is signed in, it grants
// nothing. ctx must carry the issuer (op.ContextWithIssuer).
func (t *Tenant) verifyIDTokenHint(ctx context.Context, hint string) (*oidc.IDTokenClaims, error) {
	claims, err := op.VerifyIDTokenHint[*oidc.IDTokenClaims](ctx, hint, t.provider.IDTokenHintVerifier(ctx))
	if err != nil && !errors.As(err, &op.IDTokenHintExpiredError{}) {
		return nil, err
	}
	if !isIDToken(hint, claims) {
		return nil, errNotIDToken
	}
	return claims, nil
}

// isIDToken tells our ID tokens from our JWT access tokens: an ID token
// names its authorized party (azp) and has no token id (jti); an access
// token has a jti and no azp (op.NewAccessTokenClaims), and is typed
// at+jwt when RFC 9068 typing is on.
func isIDToken(raw string, c *oidc.IDTokenClaims) bool {
	if c == nil || c.AuthorizedParty == "" || c.JWTID != "" {
		return false
	}
	if _, ok := c.Claims["scope"]; ok {
		return false
	}
	return !strings.EqualFold(jwtType(raw), "at+jwt")
}

// jwtType returns the typ of a compact JWS's protected header ("" when
// absent or unreadable; the signature was checked before).
func jwtType(raw string) string {
	head, _, ok := strings.Cut(raw, ".")
	if !ok {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return ""
	}
	var h struct {
		Typ string `json:"typ"`
	}
	if json.Unmarshal(b, &h) != nil {
		return ""
	}
	return h.Typ
}
