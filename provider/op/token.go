package op

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/guestpass/guestpass/pkg/jsonhttp"
)

// The token endpoint is ours rather than the library's: the library takes
// an authorization code before it authenticates the client or checks
// PKCE (so a wrong request destroys the code), answers unknown clients
// with server_error and a non-admin client_credentials request with
// invalid_client, always adds an ID token, and types access tokens "JWT"
// where RFC 9068 wants "at+jwt". Storage still does the saving
// (CreateAccessToken, CreateAccessAndRefreshTokens); the tokens are
// signed by jwt.go.

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
	// What json.Encoder writes for resp, encoded by hand (jsonenc.go).
	jsonhttp.WriteBody(w, http.StatusOK, appendTokenResponse(make([]byte, 0, 2048), resp))
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
	var grantFn func(context.Context, *client, signers, url.Values) (*oidc.AccessTokenResponse, error)
	switch oidc.GrantType(grant) {
	case oidc.GrantTypeCode:
		grantFn = t.codeGrant
	case oidc.GrantTypeRefreshToken:
		grantFn = t.refreshGrant
	case oidc.GrantTypeClientCredentials:
		grantFn = t.clientCredentialsGrant
	default:
		return nil, &oauthError{status: http.StatusBadRequest, code: string(oidc.UnsupportedGrantType),
			desc: "grant_type is not supported"}
	}
	// The keys before anything is spent (signersFor).
	sg, err := t.storage.signersFor(ctx, c)
	if err != nil {
		return nil, err
	}
	return grantFn(ctx, c, sg, form)
}

func (t *Tenant) codeGrant(ctx context.Context, c *client, sg signers, form url.Values) (*oidc.AccessTokenResponse, error) {
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
	return t.tokenResponse(ctx, a, c, sg, code)
}

func (t *Tenant) refreshGrant(ctx context.Context, c *client, sg signers, form url.Values) (*oidc.AccessTokenResponse, error) {
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
	return t.tokenResponse(ctx, rt, c, sg, "")
}

// clientCredentialsGrant: only admin clients may (PRODUCT.md B5); any
// other authenticated client is told so (RFC 6749 §5.2 unauthorized_client).
func (t *Tenant) clientCredentialsGrant(ctx context.Context, c *client, sg signers, form url.Values) (*oidc.AccessTokenResponse, error) {
	if c.public() || !c.cfg.Admin {
		return nil, &oauthError{status: http.StatusBadRequest, code: string(oidc.UnauthorizedClient),
			desc: "this client may not use the client_credentials grant"}
	}
	scopes, oe := t.clientCredentialsScopes(form.Get("scope"))
	if oe != nil {
		return nil, oe
	}
	return t.tokenResponse(ctx, &clientCredentialsRequest{clientID: c.cfg.ID, scopes: scopes}, c, sg, "")
}

// tokenResponse saves and signs the tokens of req (a refresh token being
// rotated is req itself). An ID token only when openid was requested:
// without it this is plain OAuth (OIDC Core §3.1.3.3).
func (t *Tenant) tokenResponse(ctx context.Context, req op.TokenRequest, c *client, sg signers, code string) (*oidc.AccessTokenResponse, error) {
	s := t.storage
	var (
		id, refresh string
		exp         time.Time
		err         error
	)
	if wantsRefreshToken(req) {
		id, refresh, exp, err = s.CreateAccessAndRefreshTokens(ctx, req, "")
	} else {
		id, exp, err = s.CreateAccessToken(ctx, req)
	}
	if err != nil {
		return nil, err
	}
	at, err := sg.at.signJWS(sg.at.atHeader, s.accessTokenClaims(t.issuer, req, c, id, exp))
	if err != nil {
		return nil, fmt.Errorf("access token: %w", err)
	}
	resp := &oidc.AccessTokenResponse{AccessToken: at, RefreshToken: refresh, TokenType: oidc.BearerToken,
		ExpiresIn: uint64(exp.Sub(s.clock()).Seconds()), Scope: req.GetScopes()}
	if idr, ok := req.(op.IDTokenRequest); ok && slices.Contains(req.GetScopes(), oidc.ScopeOpenID) {
		claims, err := s.idTokenClaims(t.issuer, idr, c, at, code)
		if err != nil {
			return nil, err
		}
		if resp.IDToken, err = sg.id.signJWS(sg.id.idHeader, claims); err != nil {
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

// accessClaims are the claims of a JWT access token (RFC 9068 §2.2), as
// the library's oidc.AccessTokenClaims wrote them, plus the tenant.
type accessClaims struct {
	Issuer     string   `json:"iss,omitempty"`
	Subject    string   `json:"sub,omitempty"`
	Audience   []string `json:"aud,omitempty"`
	Expiration int64    `json:"exp,omitempty"`
	IssuedAt   int64    `json:"iat,omitempty"`
	NotBefore  int64    `json:"nbf,omitempty"`
	ClientID   string   `json:"client_id,omitempty"`
	JWTID      string   `json:"jti,omitempty"`
	Scope      string   `json:"scope,omitempty"`
	Tenant     string   `json:"tid"`
}

// accessTokenClaims are the claims of the access token whose jti is the
// stored record's id. iat and nbf are the wall clock's, as the library
// set them (verifiers compare them with theirs).
func (s *storage) accessTokenClaims(issuer string, req op.TokenRequest, c *client, id string, exp time.Time) *accessClaims {
	now := time.Now().UTC().Add(-c.ClockSkew()).Unix()
	aud := req.GetAudience()
	if len(aud) == 0 {
		aud = []string{c.cfg.ID}
	}
	return &accessClaims{Issuer: issuer, Subject: req.GetSubject(), Audience: aud, Expiration: unixTime(exp),
		IssuedAt: now, NotBefore: now, ClientID: c.cfg.ID, JWTID: id, Scope: strings.Join(req.GetScopes(), " "),
		Tenant: s.tenant}
}

// idClaims are the claims of an ID token (OIDC Core §2, §3.1.3.6) as
// op.CreateIDToken wrote them for our requests: no acr (we set none), and
// the guest's claims of the granted scopes (IDTokenUserinfoClaimsAssertion).
type idClaims struct {
	Issuer          string   `json:"iss,omitempty"`
	Audience        []string `json:"aud,omitempty"`
	Expiration      int64    `json:"exp,omitempty"`
	IssuedAt        int64    `json:"iat,omitempty"`
	AuthTime        int64    `json:"auth_time,omitempty"`
	Nonce           string   `json:"nonce,omitempty"`
	AMR             []string `json:"amr,omitempty"`
	AuthorizedParty string   `json:"azp,omitempty"`
	ClientID        string   `json:"client_id,omitempty"`
	AccessTokenHash string   `json:"at_hash,omitempty"`
	CodeHash        string   `json:"c_hash,omitempty"`
	userClaims
}

// idTokenClaims are the claims of req's ID token; accessToken and code
// are hashed into at_hash and c_hash (code "" for none). exp and iat are
// the wall clock's, as the library set them.
func (s *storage) idTokenClaims(issuer string, req op.IDTokenRequest, c *client, accessToken, code string) (*idClaims, error) {
	ident := identityOf(req)
	if ident == nil {
		return nil, oidc.ErrServerError().WithDescription("an ID token needs a signed-in guest")
	}
	skew := c.ClockSkew()
	now := time.Now().UTC()
	var nonce string
	if a, ok := req.(*AuthRequest); ok {
		nonce = a.Nonce
	}
	aud := req.GetAudience()
	if !slices.Contains(aud, req.GetClientID()) {
		aud = append(aud[:len(aud):len(aud)], req.GetClientID())
	}
	claims := &idClaims{Issuer: issuer, Audience: aud, Expiration: now.Add(skew).Add(c.IDTokenLifetime()).Unix(),
		IssuedAt: now.Add(-skew).Unix(), AuthTime: unixTime(req.GetAuthTime().Add(-skew)), Nonce: nonce,
		AMR: req.GetAMR(), AuthorizedParty: req.GetClientID(), ClientID: req.GetClientID(),
		AccessTokenHash: halfHash(accessToken), userClaims: s.userClaims(ident, req.GetScopes())}
	if code != "" {
		claims.CodeHash = halfHash(code)
	}
	return claims, nil
}

// halfHash is at_hash and c_hash for ES256 and RS256, both on SHA-256
// (OIDC Core §3.1.3.6): the left half of the SHA-256 of the token,
// base64url.
func halfHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(h[:len(h)/2])
}

// unixTime is t in seconds, 0 (omitted) for the zero time, as oidc.Time.
func unixTime(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}
