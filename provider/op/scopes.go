package op

import (
	"net/http"
	"slices"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// Which scopes a request may carry. Only the scopes discovery lists
// (Tenant.scopes, scopes_supported) ever reach a grant: the library's own
// check also keeps phone and address, which nothing here serves.

// maxScopeLen bounds a scope parameter, as on /authorize (authbounds.go).
const maxScopeLen = 1024

// authorizeScopes keeps the supported scopes of an authorization request,
// once each, in the order asked; unknown ones are dropped (RFC 6749 §3.3
// lets the server grant less). openid is required: this is an OpenID
// provider, and a request without it (or whose scopes were all unknown)
// would otherwise pass with a grant the app did not expect.
func (t *Tenant) authorizeScopes(asked []string) ([]string, error) {
	kept := t.supportedScopes(asked)
	if !slices.Contains(kept, oidc.ScopeOpenID) {
		return nil, oidc.ErrInvalidScope().WithDescription("the openid scope is required")
	}
	return kept, nil
}

// clientCredentialsScopes checks the scope of a client_credentials
// request (an admin token, PRODUCT.md B5). No scope of its own is defined
// for admin tokens yet: the request may leave scope empty or ask for the
// tenant's supported scopes, except offline_access (this grant has no
// refresh token, RFC 6749 §4.4.3). Anything else, or an oversized value,
// is invalid_scope rather than silently stored in the token.
func (t *Tenant) clientCredentialsScopes(raw string) ([]string, *oauthError) {
	refuse := func(desc string) *oauthError {
		return &oauthError{status: http.StatusBadRequest, code: string(oidc.InvalidScope), desc: desc}
	}
	if len(raw) > maxScopeLen {
		return nil, refuse("scope is too long")
	}
	asked := strings.Fields(raw)
	if len(asked) > maxScopes {
		return nil, refuse("too many scopes")
	}
	kept := t.supportedScopes(asked)
	for _, s := range asked {
		if !slices.Contains(kept, s) || s == oidc.ScopeOfflineAccess {
			return nil, refuse("scope is not supported for this grant")
		}
	}
	return kept, nil
}

// supportedScopes returns the scopes of asked that the tenant supports,
// without repeats, in the order asked.
func (t *Tenant) supportedScopes(asked []string) []string {
	var kept []string
	for _, s := range asked {
		if slices.Contains(t.scopes, s) && !slices.Contains(kept, s) {
			kept = append(kept, s)
		}
	}
	return kept
}
