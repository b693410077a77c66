package op

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/crypto"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// The token endpoint is ours rather than the library's: the library takes
// an authorization code before it authenticates the client or checks
// PKCE (so a wrong request destroys the code), answers unknown clients
// with server_error and a non-admin client_credentials request with
// invalid_client, always adds an ID token, and types access tokens "JWT"
// where RFC 9068 wants "at+jwt". Storage still
// does the saving (CreateAccessToken, CreateAccessAndRefreshTokens) and
// the library still builds ID tokens (op.CreateIDToken).

// serveToken answers POST /oauth/token.
func (t *Tenant) serveToken(w http.ResponseWriter, r *http.Request) {
	form, oe := readForm(r)
	if oe != nil {
		oe.write(w, t.issuer)
		return
	}
	resp, err := t.exchange(op.ContextWithIssuer(r.Context(), t.issuer), r, form)
	if err != nil {
		t.fail(w, r, err)
		return
	}
	writeJSON(w, resp)
}

// exchange authenticates the client first, whatever the grant: nothing a
// request carries is looked at, let alone spent, for an unauthenticated
// client.
func (t *Tenant) exchange(ctx context.Context, r *http.Request, form url.Values) (*oidc.AccessTokenResponse, error) {
	grant := form.Get("grant_type")
	if grant == "" {
		return nil, invalidRequest("grant_type is missing")
	}
	c, oe := t.storage.authenticateClient(r, form)
	if oe != nil {
		return nil, oe
	}
	switch oidc.GrantType(grant) {
	case oidc.GrantTypeCode:
		return t.codeGrant(ctx, c, form)
	case oidc.GrantTypeRefreshToken:
		return t.refreshGrant(ctx, c, form)
	case oidc.GrantTypeClientCredentials:
		return t.clientCredentialsGrant(ctx, c, form)
	}
	return nil, &oauthError{status: http.StatusBadRequest, code: string(oidc.UnsupportedGrantType),
		desc: "grant_type is not supported"}
}

func (t *Tenant) codeGrant(ctx context.Context, c *client, form url.Values) (*oidc.AccessTokenResponse, error) {
	code := form.Get("code")
	if code == "" {
		return nil, invalidRequest("code is missing")
	}
	verifier := form.Get("code_verifier")
	if c.public() && verifier == "" {
		// A public client is authenticated by PKCE alone.
		return nil, invalidRequest("code_verifier is required")
	}
	a, err := t.storage.redeemCode(ctx, code, c, verifier, form.Get("redirect_uri"))
	if err != nil {
		return nil, err
	}
	return t.tokenResponse(ctx, a, c, code, "")
}

func (t *Tenant) refreshGrant(ctx context.Context, c *client, form url.Values) (*oidc.AccessTokenResponse, error) {
	tok := form.Get("refresh_token")
	if tok == "" {
		return nil, invalidRequest("refresh_token is missing")
	}
	req, err := t.storage.TokenRequestByRefreshToken(ctx, tok)
	if err != nil {
		return nil, err
	}
	rt := req.(*refreshToken)
	if rt.ClientID != c.cfg.ID {
		return nil, invalidGrant("invalid refresh token")
	}
	if scope := strings.Fields(form.Get("scope")); len(scope) > 0 {
		for _, s := range scope {
			if !slices.Contains(rt.Scopes, s) {
				return nil, &oauthError{status: http.StatusBadRequest, code: string(oidc.InvalidScope),
					desc: "scope exceeds the original grant"}
			}
		}
		rt.SetCurrentScopes(scope)
	}
	return t.tokenResponse(ctx, rt, c, "", tok)
}

// clientCredentialsGrant: only admin clients may (PRODUCT.md B5); any
// other authenticated client is told so (RFC 6749 §5.2 unauthorized_client).
func (t *Tenant) clientCredentialsGrant(ctx context.Context, c *client, form url.Values) (*oidc.AccessTokenResponse, error) {
	if c.public() || !c.cfg.Admin {
		return nil, &oauthError{status: http.StatusBadRequest, code: string(oidc.UnauthorizedClient),
			desc: "this client may not use the client_credentials grant"}
	}
	scopes, oe := t.clientCredentialsScopes(form.Get("scope"))
	if oe != nil {
		return nil, oe
	}
	return t.tokenResponse(ctx, &clientCredentialsRequest{clientID: c.cfg.ID, scopes: scopes}, c, "", "")
}

// tokenResponse saves and signs the tokens of req. current is the refresh
// token being rotated ("" for none). An ID token only when openid was
// requested: without it this is plain OAuth (OIDC Core §3.1.3.3).
func (t *Tenant) tokenResponse(ctx context.Context, req op.TokenRequest, c *client, code, current string) (*oidc.AccessTokenResponse, error) {
	s := t.storage
	var (
		id, refresh string
		exp         time.Time
		err         error
	)
	if wantsRefreshToken(req) {
		id, refresh, exp, err = s.CreateAccessAndRefreshTokens(ctx, req, current)
	} else {
		id, exp, err = s.CreateAccessToken(ctx, req)
	}
	if err != nil {
		return nil, err
	}
	at, err := s.signAccessToken(ctx, t.issuer, req, c, id, exp)
	if err != nil {
		return nil, err
	}
	resp := &oidc.AccessTokenResponse{AccessToken: at, RefreshToken: refresh, TokenType: oidc.BearerToken,
		ExpiresIn: uint64(exp.Sub(s.clock()).Seconds()), Scope: req.GetScopes()}
	if idr, ok := req.(op.IDTokenRequest); ok && slices.Contains(req.GetScopes(), oidc.ScopeOpenID) {
		resp.IDToken, err = op.CreateIDToken(ctx, t.issuer, idr, c.IDTokenLifetime(), at, code, s, c)
		if err != nil {
			return nil, fmt.Errorf("id token: %w", err)
		}
	}
	return resp, nil
}

// wantsRefreshToken: a code exchange gets one with offline_access; a
// refresh exchange always rotates.
func wantsRefreshToken(req op.TokenRequest) bool {
	switch r := req.(type) {
	case *AuthRequest:
		return slices.Contains(r.Scopes, oidc.ScopeOfflineAccess)
	case *refreshToken:
		return true
	}
	return false
}

// accessTokenType is the JWT "typ" of access tokens (RFC 9068 §2.1), so a
// resource server cannot mistake one for an ID token or the reverse.
const accessTokenType = "at+jwt"

// signAccessToken makes the JWT access token whose jti is the stored
// record's id.
func (s *storage) signAccessToken(ctx context.Context, issuer string, req op.TokenRequest, c *client, id string, exp time.Time) (string, error) {
	claims := oidc.NewAccessTokenClaims(issuer, req.GetSubject(), req.GetAudience(), exp, id, c.cfg.ID, c.ClockSkew())
	claims.Scopes = req.GetScopes()
	claims.Claims = map[string]any{"tid": s.tenant}
	key, err := s.keys.current(ctx)
	if err != nil {
		return "", fmt.Errorf("signing key: %w", err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{
		Algorithm: key.SignatureAlgorithm(),
		Key:       &jose.JSONWebKey{Key: key.Key(), KeyID: key.ID()},
	}, (&jose.SignerOptions{}).WithType(accessTokenType))
	if err != nil {
		return "", fmt.Errorf("access token signer: %w", err)
	}
	tok, err := crypto.Sign(claims, signer)
	if err != nil {
		return "", fmt.Errorf("sign access token: %w", err)
	}
	return tok, nil
}
