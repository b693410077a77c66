package op

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/guestpass/guestpass/pkg/jsonhttp"
	"github.com/guestpass/guestpass/pkg/store"
)

// Introspection, revocation and userinfo are ours too: the library's
// answer errors in plain text built from Go errors, accept only some
// client authentication methods, and tell any client of the tenant about
// any token.

// liveAccessToken verifies a JWT access token of this tenant (issuer,
// signature, expiry) and returns its stored record, in one round trip
// that also checks the token's refresh family: a token whose record is
// gone (revoked, expired) or whose family was revoked is not live
// (errNotFound). ctx must carry the issuer.
func (t *Tenant) liveAccessToken(ctx context.Context, raw string) (*accessToken, string, error) {
	if err := t.keysLoaded(ctx); err != nil {
		return nil, "", err
	}
	claims, err := t.verifiedAccess(ctx, raw)
	if err != nil || claims.JWTID == "" || len(claims.JWTID) > 128 {
		return nil, "", errNotFound{"access token"}
	}
	s := t.storage
	id := claims.JWTID
	ops := []*store.Op{store.GetOp(s.k("at", id))}
	if fam, _, ok := strings.Cut(id, "."); ok {
		ops = append(ops, store.GetOp(s.k("rtf-revoked", fam)))
	}
	// Every op carries its own error (store.Pipeline); each is read
	// below, so that what decides is the op's own result, not the
	// batch's summary of it.
	_ = s.st.Pipeline(ctx, ops...)
	if err := liveRecord(ops[0]); err != nil {
		return nil, "", err
	}
	if len(ops) == 2 {
		if err := familyLive(ops[1]); err != nil {
			return nil, "", err
		}
	}
	var at accessToken
	if err := json.Unmarshal(ops[0].Val, &at); err != nil {
		return nil, "", fmt.Errorf("decode access token: %w", err)
	}
	if at.Tenant != s.tenant || at.Subject != claims.Subject || !s.clock().Before(at.Expires) {
		return nil, "", errNotFound{"access token"}
	}
	return &at, id, nil
}

// verifiedClaims are what liveAccessToken reads of a verified access
// token; the stored record says the rest.
type verifiedClaims struct {
	Issuer     string `json:"iss"`
	Subject    string `json:"sub"`
	Expiration int64  `json:"exp"`
	JWTID      string `json:"jti"`
}

// verifiedAccess checks raw as an access token of this tenant (what the
// library's op.VerifyAccessToken checked, and typ at+jwt): signed by a
// published key, this issuer, not expired by the tenant's clock (the one
// that set the record's and so the token's expiry).
func (t *Tenant) verifiedAccess(ctx context.Context, raw string) (*verifiedClaims, error) {
	payload, err := t.storage.keys.verifyJWS(ctx, raw, accessTokenType)
	if err != nil {
		return nil, err
	}
	var c verifiedClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, fmt.Errorf("access token claims: %w", err)
	}
	if c.Issuer != t.issuer || !t.storage.clock().Before(time.Unix(c.Expiration, 0)) {
		return nil, errNotFound{"access token"}
	}
	return &c, nil
}

// liveRecord reads the result of the access token record's read: found,
// gone (errNotFound), or a store error (returned: the caller answers 503
// or 500, never "inactive" by default).
func liveRecord(op *store.Op) error {
	switch {
	case op.Err == nil:
		return nil
	case errors.Is(op.Err, store.ErrNotFound):
		return errNotFound{"access token"}
	}
	return fmt.Errorf("read access token: %w", op.Err)
}

// familyLive reads the result of the refresh family's revoked mark. Only
// a mark known to be absent means "not revoked": a store error must not
// let the token of a revoked sign-in pass (fail closed).
func familyLive(op *store.Op) error {
	switch {
	case op.Err == nil:
		return errNotFound{"access token"} // the mark exists: revoked
	case errors.Is(op.Err, store.ErrNotFound):
		return nil
	}
	return fmt.Errorf("read refresh family mark: %w", op.Err)
}

// serveIntrospect answers POST /oauth/introspect (RFC 7662). The caller
// authenticates like at the token endpoint (client_secret_basic or
// client_secret_post); public clients cannot authenticate and are refused,
// as Keycloak refuses them. A token is active only to the client it was
// issued to: every other caller hears {"active":false}, exactly what an
// unknown token gets.
func (t *Tenant) serveIntrospect(w http.ResponseWriter, r *http.Request) {
	form, oe := readForm(r)
	if oe != nil {
		oe.write(w, t.issuer)
		return
	}
	c, oe := t.storage.authenticateClient(r, form)
	if oe == nil && c.public() {
		oe = invalidClient("public clients may not introspect tokens")
	}
	if oe != nil {
		oe.write(w, t.issuer)
		return
	}
	if err := t.introspect(w, r.Context(), c, form.Get("token")); err != nil {
		t.fail(w, r, err)
	}
}

func (t *Tenant) introspect(w http.ResponseWriter, ctx context.Context, c *client, token string) error {
	if token == "" {
		return invalidRequest("token is missing")
	}
	at, _, err := t.liveAccessToken(op.ContextWithIssuer(ctx, t.issuer), token)
	var nf errNotFound
	switch {
	case errors.As(err, &nf) || err == nil && at.ClientID != c.cfg.ID:
		jsonhttp.Write(w, http.StatusOK, &oidc.IntrospectionResponse{Active: false})
		return nil
	case err != nil:
		return err
	}
	resp := &oidc.IntrospectionResponse{
		Active: true, Subject: at.Subject, ClientID: at.ClientID, Scope: at.Scopes,
		Expiration: oidc.FromTime(at.Expires), Audience: []string{at.ClientID}, TokenType: oidc.BearerToken,
		Claims: map[string]any{"tid": t.id},
	}
	if at.Identity != nil {
		resp.Email = at.Identity.Email
		resp.EmailVerified = oidc.Bool(at.Identity.EmailVerified)
		resp.Claims["idp"] = at.Identity.Source
	}
	jsonhttp.Write(w, http.StatusOK, resp)
	return nil
}

// serveRevoke answers POST /revoke (RFC 7009). Public clients revoke
// their own tokens with client_id alone (§2.1). The answer is 200 whether
// the token was unknown, another client's (left alone: §2.1 says the
// server must check the token was issued to the caller, and the answer
// must not tell that it exists) or revoked.
func (t *Tenant) serveRevoke(w http.ResponseWriter, r *http.Request) {
	form, oe := readForm(r)
	if oe != nil {
		oe.write(w, t.issuer)
		return
	}
	c, oe := t.storage.authenticateClient(r, form)
	if oe != nil {
		oe.write(w, t.issuer)
		return
	}
	if err := t.revoke(op.ContextWithIssuer(r.Context(), t.issuer), c, form.Get("token")); err != nil {
		t.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// revoke tells a token by its shape (the hint is only a hint, §2.1): our
// access tokens are JWTs, refresh tokens are opaque.
func (t *Tenant) revoke(ctx context.Context, c *client, token string) error {
	if token == "" {
		return invalidRequest("token is missing")
	}
	if strings.Count(token, ".") == 2 {
		return t.revokeAccess(ctx, c, token)
	}
	return t.storage.revokeRefresh(ctx, hashToken(token), c.cfg.ID)
}

func (t *Tenant) revokeAccess(ctx context.Context, c *client, token string) error {
	at, id, err := t.liveAccessToken(ctx, token)
	if err != nil {
		return ignoreNotFound(err)
	}
	if at.ClientID != c.cfg.ID {
		return nil
	}
	return t.storage.st.Delete(ctx, t.storage.k("at", id))
}
