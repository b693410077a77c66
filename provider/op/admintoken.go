package op

import (
	"context"
	"errors"

	"github.com/zitadel/oidc/v3/pkg/op"
)

// ErrTokenInvalid: the bearer token is not a live access token of this
// tenant (bad signature, another issuer, expired, revoked, unknown).
var ErrTokenInvalid = errors.New("op: access token is not valid")

// ErrNotAdmin: the token is live but was not issued through
// client_credentials to a client that is an admin client now.
var ErrNotAdmin = errors.New("op: access token does not grant admin rights")

// VerifyAdminToken checks raw the way introspection does (issuer,
// signature, expiry, the stored record, the refresh family) and then that
// it was issued by client_credentials (no user identity: a user's token
// of an admin client acts for the user, not the admin) to a client that
// is configured as an admin client today (a client demoted by a reload
// loses its rights at once). It returns the client id and scopes; a store
// failure is returned as is so that the caller answers 503.
func (t *Tenant) VerifyAdminToken(ctx context.Context, raw string) (clientID string, scopes []string, err error) {
	at, _, err := t.liveAccessToken(op.ContextWithIssuer(ctx, t.issuer), raw)
	var nf errNotFound
	if errors.As(err, &nf) {
		return "", nil, ErrTokenInvalid
	}
	if err != nil {
		return "", nil, err
	}
	c, ok := t.storage.clients[at.ClientID]
	if at.Identity != nil || !ok || !c.cfg.Admin || c.public() {
		return at.ClientID, nil, ErrNotAdmin
	}
	return at.ClientID, at.Scopes, nil
}

// ID is the tenant's id.
func (t *Tenant) ID() string { return t.id }

// Issuer is the tenant's issuer URL.
func (t *Tenant) Issuer() string { return t.issuer }
