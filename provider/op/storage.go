package op

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/guestpass/guestpass/pkg/store"
)

// Lifetimes of what the OP keeps in the store.
const (
	authRequestTTL = time.Hour       // from /authorize to the code (authlimit.go: how long it is kept)
	authCodeTTL    = 2 * time.Minute // RFC 6749 asks for short-lived codes
	accessTokenTTL = time.Hour
)

// Bounds of the authorization request parameters we store.
const (
	maxStateLen     = 2048
	maxNonceLen     = 1024
	maxLoginHintLen = 320 // an address is at most 254 bytes
	maxScopes       = 32
	maxChallengeLen = 128 // S256 challenges are 43 characters
)

// errNotFound satisfies op.StorageNotFoundError so the library answers
// "invalid" rather than "server error" for unknown ids.
type errNotFound struct{ what string }

func (e errNotFound) Error() string { return e.what + " not found" }
func (errNotFound) IsNotFound()     {}

// storage is the op.Storage of one tenant. It translates between the
// library and the store; it owns no domain rules beyond the OAuth ones.
type storage struct {
	tenant  string
	st      store.Store
	clients map[string]*client
	// keys are the ES256 keys: every access token, and the ID tokens of
	// clients that do not ask for RS256. rsaKeys sign the ID tokens of
	// those that do (and exist in every tenant: provider.go).
	keys, rsaKeys *keyRing
	// idTokenAlgs are the algorithms the tenant's clients get their ID
	// tokens in (discovery's id_token_signing_alg_values_supported).
	idTokenAlgs []jose.SignatureAlgorithm
	clock       func() time.Time
	// sessionLifetime bounds a refresh token family (absolute).
	sessionLifetime time.Duration
	// authorizePerIP caps /authorize hits per client IP per minute
	// (0: no cap).
	authorizePerIP int
	// decryptCode turns a code of the library's format (before newCode)
	// back into its auth request id (the provider's crypto; set once the
	// provider exists).
	decryptCode func(code string) (string, error)
}

var (
	_ op.Storage                  = (*storage)(nil)
	_ op.ClientCredentialsStorage = (*storage)(nil)
)

// k names the record of one kind for one id (an authorization request and
// its code share the request's id). The id is the key's hash tag, so a
// tenant's requests and tokens spread over a Cluster (no script reads two
// of them together; a step's ops go in one pipeline, split by node).
func (s *storage) k(kind, id string) string { return store.TagKey(s.tenant, id, kind) }

// hashToken keys tokens and codes by a hash, so a dump of the store does
// not hold usable credentials.
func hashToken(t string) string {
	h := sha256.Sum256([]byte(t))
	return hex.EncodeToString(h[:])
}

func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func (s *storage) getJSON(ctx context.Context, key string, v any, what string) error {
	b, err := s.st.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound{what}
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %s: %w", what, err)
	}
	return nil
}

// CreateAuthRequest also enforces what the library leaves open: PKCE with
// S256 only (plain is refused), and PKCE for every public client.
// hintSubject is the subject of the request's verified id_token_hint.
func (s *storage) CreateAuthRequest(ctx context.Context, r *oidc.AuthRequest, hintSubject string) (op.AuthRequest, error) {
	return s.createAuthRequest(ctx, r, hintSubject, "")
}

// createAuthRequest is CreateAuthRequest counted against the per-IP limit
// of client, the key of the client's address ("": not counted).
func (s *storage) createAuthRequest(ctx context.Context, r *oidc.AuthRequest, hintSubject, client string) (*AuthRequest, error) {
	a, err := s.newAuthRequest(r, hintSubject)
	if err != nil {
		return nil, err
	}
	if err := s.saveAuthRequest(ctx, a, client); err != nil {
		return nil, err
	}
	return a, nil
}

// newAuthRequest checks a parsed request (what the library leaves open)
// and builds the record to store.
func (s *storage) newAuthRequest(r *oidc.AuthRequest, hintSubject string) (*AuthRequest, error) {
	c, ok := s.clients[r.ClientID]
	if !ok {
		return nil, oidc.ErrInvalidClient().WithDescription("unknown client")
	}
	if r.CodeChallenge != "" && r.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256")
	}
	if c.public() && r.CodeChallenge == "" {
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE (code_challenge with S256) is required for public clients")
	}
	if r.ResponseType != oidc.ResponseTypeCode {
		return nil, oidc.ErrInvalidRequest().WithDescription("only response_type=code is supported")
	}
	// Every /authorize hit is stored (authlimit.go: how long): keep each one small
	// (Dex #1292), and refuse oversized parameters rather than store them.
	if len(r.State) > maxStateLen || len(r.Nonce) > maxNonceLen || len(r.LoginHint) > maxLoginHintLen ||
		len(r.Scopes) > maxScopes || len(r.CodeChallenge) > maxChallengeLen {
		return nil, oidc.ErrInvalidRequest().WithDescription("a request parameter is too long")
	}
	a := &AuthRequest{
		ID:           uuid.NewString(),
		Tenant:       s.tenant,
		ClientID:     r.ClientID,
		RedirectURI:  r.RedirectURI,
		Scopes:       r.Scopes,
		State:        r.State,
		Nonce:        r.Nonce,
		ResponseType: r.ResponseType,
		ResponseMode: r.ResponseMode,
		Prompt:       r.Prompt,
		MaxAge:       r.MaxAge,
		LoginHint:    r.LoginHint,
		HintSubject:  hintSubject,
		CreatedAt:    s.clock().UTC(),
	}
	for _, l := range r.UILocales {
		a.UILocales = append(a.UILocales, l.String())
	}
	if r.CodeChallenge != "" {
		a.CodeChallenge = &oidc.CodeChallenge{Challenge: r.CodeChallenge, Method: r.CodeChallengeMethod}
	}
	return a, nil
}

// AuthRequestByID is part of op.Storage; /authorize/callback is ours
// (callback.go) and reads the request itself.
func (s *storage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	return s.authRequest(ctx, id)
}

func (s *storage) authRequest(ctx context.Context, id string) (*AuthRequest, error) {
	if !validRequestID(id) {
		return nil, errNotFound{"auth request"}
	}
	raw, err := s.st.Get(ctx, s.k("authreq", id))
	return s.decodeAuthRequest(raw, err)
}

// validRequestID: an id that can name an auth request (never sent to the
// store otherwise).
func validRequestID(id string) bool { return id != "" && len(id) <= 64 }

// decodeAuthRequest reads an auth request as Get returned it (raw, err).
func (s *storage) decodeAuthRequest(raw []byte, err error) (*AuthRequest, error) {
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNotFound{"auth request"}
	}
	if err != nil {
		return nil, err
	}
	var a AuthRequest
	if err := decodeAuthRequestJSON(raw, &a); err != nil {
		return nil, fmt.Errorf("decode auth request: %w", err)
	}
	if a.Tenant != s.tenant {
		return nil, errNotFound{"auth request"}
	}
	return &a, nil
}

// AuthRequestByCode is the library's code exchange, which spends the code
// before the client is authenticated. The token endpoint is ours
// (token.go, redeemCode), so this is never reached; it refuses rather than
// take a code it cannot check.
func (s *storage) AuthRequestByCode(context.Context, string) (op.AuthRequest, error) {
	return nil, oidc.ErrInvalidGrant().WithDescription("invalid or used code")
}

// DeleteAuthRequest would be called by the library after a code exchange;
// ours deletes the request in the round trip that saves the tokens
// (redeemOps).
func (s *storage) DeleteAuthRequest(context.Context, string) error { return nil }

// completeAuthRequestOp is the write that records who signed in for an
// auth request, and the browser (flow) it happened in. a is the request
// as the caller loaded it.
func (s *storage) completeAuthRequestOp(a *AuthRequest, ident Identity, flow string) (*store.Op, error) {
	if a.Tenant != s.tenant {
		return nil, errNotFound{"auth request"}
	}
	ttl := authRequestTTL - s.clock().Sub(a.CreatedAt)
	if ttl <= 0 {
		return nil, errNotFound{"auth request"}
	}
	done := *a
	done.Identity = &ident
	done.Binding = flowBinding(flow)
	b, err := marshalJSON(&done, 1024)
	if err != nil {
		return nil, fmt.Errorf("encode auth request: %w", err)
	}
	return store.SetOp(s.k("authreq", a.ID), b, ttl), nil
}

// flowBinding is what an auth request keeps of the browser's flow id.
func flowBinding(flow string) string { return hashToken("flow|" + flow) }

func identityOf(r op.TokenRequest) *Identity {
	switch t := r.(type) {
	case *AuthRequest:
		return t.Identity
	case *refreshToken:
		id := t.Identity
		return &id
	}
	return nil
}

func (s *storage) CreateAccessToken(ctx context.Context, r op.TokenRequest) (string, time.Time, error) {
	id, save, exp, err := s.newAccessToken(r, "")
	if err != nil {
		return "", time.Time{}, err
	}
	redeem, err := s.redeemOps(r, id, "", time.Time{})
	if err != nil {
		return "", time.Time{}, err
	}
	if err := s.st.Pipeline(ctx, append([]*store.Op{save}, redeem...)...); err != nil {
		return "", time.Time{}, fmt.Errorf("save access token: %w", err)
	}
	return id, exp, nil
}

// newAccessToken makes an access token for r and the store op that saves
// it, so that a caller saving more can send both in one round trip. A
// token issued with a refresh token family carries the family in its id
// ("family.uuid"), so one round trip can check both (accessTokenOps).
func (s *storage) newAccessToken(r op.TokenRequest, family string) (string, *store.Op, time.Time, error) {
	id := uuid.NewString()
	if family != "" {
		id = family + "." + id
	}
	exp := s.clock().Add(accessTokenTTL).UTC()
	rec := accessToken{Tenant: s.tenant, Subject: r.GetSubject(), Scopes: r.GetScopes(), Identity: identityOf(r),
		Expires: exp, Family: family}
	switch t := r.(type) {
	case *AuthRequest:
		rec.ClientID = t.ClientID
	case *refreshToken:
		rec.ClientID = t.ClientID
	case *clientCredentialsRequest:
		rec.ClientID = t.clientID
	default:
		return "", nil, time.Time{}, oidc.ErrServerError().WithDescription("unsupported token request")
	}
	b, err := marshalJSON(&rec, 512)
	if err != nil {
		return "", nil, time.Time{}, fmt.Errorf("encode access token: %w", err)
	}
	return id, store.SetOp(s.k("at", id), b, accessTokenTTL), exp, nil
}

// CreateAccessAndRefreshTokens issues a new refresh token; when r is a
// presented refresh token (as TokenRequestByRefreshToken read it, which
// names its key: the token's text, the library's third argument, is not
// needed again), it rotates it: the old token is marked used with a swap
// that must answer the record read, so a replayed token is caught.
func (s *storage) CreateAccessAndRefreshTokens(ctx context.Context, r op.TokenRequest, _ string) (string, string, time.Time, error) {
	var (
		family  string
		expires time.Time
		record  []byte        // the new refresh token's
		prev    *refreshToken // the token rotated out, if any
		used    *store.Op     // its swap for a used record (markUsedOp)
		err     error
	)
	switch t := r.(type) {
	case *AuthRequest:
		if t.Identity == nil {
			return "", "", time.Time{}, oidc.ErrInvalidGrant()
		}
		rt := refreshToken{Tenant: s.tenant, Family: uuid.NewString(), ClientID: t.ClientID, Scopes: t.Scopes,
			Identity: *t.Identity, Expires: t.Identity.AuthTime.Add(s.sessionLifetime)}
		if record, err = marshalJSON(&rt, 512); err != nil {
			return "", "", time.Time{}, fmt.Errorf("encode refresh token: %w", err)
		}
		family, expires = rt.Family, rt.Expires
	case *refreshToken:
		if used, err = s.markUsedOp(t); err != nil {
			return "", "", time.Time{}, err
		}
		// The next token is the same grant (whatever scope this request
		// narrowed its tokens to, RFC 6749 §6): the record read, byte for
		// byte, in this code and in every replica's, so encoding it again
		// would only spend CPU on the same values.
		prev, record, family, expires = t, t.raw, t.Family, t.Expires
	default:
		return "", "", time.Time{}, oidc.ErrServerError().WithDescription("unsupported token request")
	}
	ttl := expires.Sub(s.clock())
	if ttl <= 0 {
		return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("sign-in expired")
	}
	accessID, saveAccess, exp, err := s.newAccessToken(r, family)
	if err != nil {
		return "", "", time.Time{}, err
	}
	tok, err := newRefreshToken(family)
	if err != nil {
		return "", "", time.Time{}, err
	}
	// The rotation and both new tokens in one round trip. Should a save
	// fail, the client gets an error and neither token; should the swap
	// be lost (a replay race), the family is revoked, and with it the new
	// tokens, which nobody was given. A token saved alone is an orphan
	// nobody holds, and it expires.
	saveRefresh := store.SetOp(s.k("rt", hashToken(tok)), record, ttl)
	redeem, err := s.redeemOps(r, accessID, family, expires)
	if err != nil {
		return "", "", time.Time{}, err
	}
	ops := make([]*store.Op, 0, 5)
	if used != nil {
		ops = append(ops, used)
	}
	ops = append(append(ops, saveAccess, saveRefresh), redeem...)
	err = s.st.Pipeline(ctx, ops...)
	if used != nil {
		if err := s.rotated(ctx, used, prev); err != nil {
			return "", "", time.Time{}, err
		}
	}
	if err != nil {
		return "", "", time.Time{}, fmt.Errorf("save tokens: %w", err)
	}
	return accessID, tok, exp, nil
}

// markUsedOp is the swap that rotates rt out: the stored token for a used
// one, answering what it replaced. The swap is won when that is exactly
// what TokenRequestByRefreshToken read (no second read): then no other
// rotation came between. A lost swap has written too, but only a used
// record over a used one (the only write to a stored token is this
// marking; revocation deletes it, and a deleted token stays deleted), so
// a plain swap does what a compare-and-swap would, as one native command
// where the compare-and-swap is a script (a third of the Redis CPU of a
// refresh grant).
func (s *storage) markUsedOp(rt *refreshToken) (*store.Op, error) {
	used := *rt
	used.Used = true
	next, err := marshalJSON(&used, len(rt.raw)+16)
	if err != nil {
		return nil, fmt.Errorf("encode refresh token: %w", err)
	}
	return store.SwapOp(rt.key, next), nil
}

// rotated reads the result of markUsedOp. A lost swap means another
// request rotated (or revoked) the token first: a replay race, so the
// family is revoked.
func (s *storage) rotated(ctx context.Context, used *store.Op, rt *refreshToken) error {
	if used.Err != nil && !errors.Is(used.Err, store.ErrNotFound) {
		return fmt.Errorf("rotate refresh token: %w", used.Err)
	}
	if used.Err != nil || !bytes.Equal(used.Val, rt.raw) {
		_ = s.revokeFamily(ctx, rt)
		return oidc.ErrInvalidGrant().WithDescription("refresh token reused")
	}
	return nil
}

// A refresh token is "family.secret": the family (a UUID, not a secret:
// access tokens carry it in their jti too) lets the first read fetch the
// token and its family's revoked mark together. Tokens issued before it
// carried its family are the secret alone; they are read in two steps.
func newRefreshToken(family string) (string, error) {
	secret, err := randomToken()
	if err != nil {
		return "", err
	}
	return family + "." + secret, nil
}

// familyOf is the family a refresh token names, if it names one that can
// be (only then does it reach a store key); the stored record must name
// the same family.
func familyOf(tok string) (string, bool) {
	fam, _, ok := strings.Cut(tok, ".")
	if !ok || fam == "" || len(fam) > 64 {
		return "", false
	}
	for _, c := range fam {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c == '-') {
			return "", false
		}
	}
	return fam, true
}

// TokenRequestByRefreshToken refuses unknown, expired and revoked tokens;
// a token already rotated is a replay: its whole family is revoked. The
// token and its family's revoked mark are read in one round trip.
func (s *storage) TokenRequestByRefreshToken(ctx context.Context, tok string) (op.RefreshTokenRequest, error) {
	read := store.GetOp(s.k("rt", hashToken(tok)))
	var mark *store.Op
	fam, named := familyOf(tok)
	if named {
		mark = store.GetOp(s.k("rtf-revoked", fam))
		_ = s.st.Pipeline(ctx, read, mark) // each op carries its own error
	} else {
		read.Val, read.Err = s.st.Get(ctx, read.Key)
	}
	if errors.Is(read.Err, store.ErrNotFound) {
		return nil, oidc.ErrInvalidGrant().WithDescription("invalid refresh token")
	}
	if read.Err != nil {
		return nil, read.Err
	}
	var rt refreshToken
	if err := decodeRefreshToken(read.Val, &rt); err != nil {
		return nil, fmt.Errorf("decode refresh token: %w", err)
	}
	rt.raw, rt.key = read.Val, read.Key
	if rt.Tenant != s.tenant {
		return nil, oidc.ErrInvalidGrant().WithDescription("invalid refresh token")
	}
	if named && fam != rt.Family {
		// The token's own family decides, never the one its text names.
		return nil, oidc.ErrInvalidGrant().WithDescription("invalid refresh token")
	}
	if rt.Used {
		if err := s.revokeFamily(ctx, &rt); err != nil {
			return nil, err
		}
		return nil, oidc.ErrInvalidGrant().WithDescription("refresh token reused; the sign-in was revoked")
	}
	if mark == nil {
		mark = store.GetOp(s.k("rtf-revoked", rt.Family))
		mark.Val, mark.Err = s.st.Get(ctx, mark.Key)
	}
	switch {
	case mark.Err == nil:
		return nil, oidc.ErrInvalidGrant().WithDescription("refresh token revoked")
	case !errors.Is(mark.Err, store.ErrNotFound):
		// Fail closed: only a mark known to be absent lets the token pass.
		return nil, mark.Err
	}
	return &rt, nil
}

// revokeFamily marks every refresh token of one sign-in revoked. A family
// is alive unless marked, so issuing the first token of a family costs no
// extra write; the mark lives as long as the family could.
func (s *storage) revokeFamily(ctx context.Context, rt *refreshToken) error {
	op := s.revokeFamilyOp(rt.Family, rt.Expires)
	if op == nil {
		return nil
	}
	return s.st.Pipeline(ctx, op)
}

// revokeFamilyOp is the write that marks family (alive until until)
// revoked, for a caller that sends it with other writes; nil once the
// family has ended anyway.
func (s *storage) revokeFamilyOp(family string, until time.Time) *store.Op {
	ttl := until.Sub(s.clock())
	if family == "" || ttl <= 0 {
		return nil
	}
	return store.SetOp(s.k("rtf-revoked", family), []byte("1"), ttl)
}

// TerminateSession completes op.Storage; logout is ours (endsession.go)
// and the library's end_session route is not served.
func (s *storage) TerminateSession(ctx context.Context, userID, clientID string) error { return nil }

// The library's token, revocation, introspection and userinfo endpoints
// are not served (provider.go, wrap): ours are token.go, introspect.go and
// userinfo.go. The op.Storage methods only those endpoints call refuse
// rather than keep a second copy of what ours do.
var errNotServed = errors.New("not served: guestpass answers this endpoint itself")

// RevokeToken completes op.Storage (revocation: introspect.go, serveRevoke).
func (s *storage) RevokeToken(context.Context, string, string, string) *oidc.Error {
	return oidc.ErrServerError().WithParent(errNotServed)
}

// revokeRefresh ends the whole sign-in the refresh token belongs to.
func (s *storage) revokeRefresh(ctx context.Context, hash, clientID string) error {
	var rt refreshToken
	if err := s.getJSON(ctx, s.k("rt", hash), &rt, "refresh token"); err != nil {
		return ignoreNotFound(err)
	}
	if rt.ClientID != clientID {
		return nil // as for an access token of another client
	}
	// The family's mark and the token's deletion in one round trip.
	ops := []*store.Op{store.DeleteOp(s.k("rt", hash))}
	if op := s.revokeFamilyOp(rt.Family, rt.Expires); op != nil {
		ops = append(ops, op)
	}
	return s.st.Pipeline(ctx, ops...)
}

func ignoreNotFound(err error) error {
	var nf errNotFound
	if errors.As(err, &nf) {
		return nil
	}
	return err
}

// GetRefreshTokenInfo completes op.Storage (revocation: introspect.go).
func (s *storage) GetRefreshTokenInfo(context.Context, string, string) (string, string, error) {
	return "", "", errNotServed
}

func (s *storage) SigningKey(ctx context.Context) (op.SigningKey, error) {
	return s.keys.current(ctx)
}

// SignatureAlgorithms are the ID tokens' algorithms: what discovery
// advertises is what some client of the tenant gets.
func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return s.idTokenAlgs, nil
}

// KeySet is every ring's published keys: the JWKS, and what the library
// checks an id_token_hint against.
func (s *storage) KeySet(ctx context.Context) ([]op.Key, error) {
	keys, err := s.keys.keySet(ctx)
	if err != nil {
		return nil, err
	}
	rsaKeys, err := s.rsaKeys.keySet(ctx)
	if err != nil {
		return nil, err
	}
	return append(keys, rsaKeys...), nil
}

// signers are the keys that sign one token answer now.
type signers struct{ at, id *signingKey }

// signersFor returns the keys of c's tokens: the access token's (ES256)
// and the ID token's (the client's algorithm). The token endpoint asks
// before it spends a code or a refresh token, so a key that cannot be
// had (an outage at a ring's first load) leaves the grant usable.
func (s *storage) signersFor(ctx context.Context, c *client) (signers, error) {
	at, err := s.keys.current(ctx)
	if err != nil {
		return signers{}, fmt.Errorf("signing key: %w", err)
	}
	if c.idTokenAlg() != jose.RS256 {
		return signers{at: at, id: at}, nil
	}
	id, err := s.rsaKeys.current(ctx)
	if err != nil {
		return signers{}, fmt.Errorf("signing key: %w", err)
	}
	return signers{at: at, id: id}, nil
}

// loadKeys loads (or makes) every ring's keys; the error of the first
// that cannot be.
func (s *storage) loadKeys(ctx context.Context) error {
	if _, err := s.keys.set(ctx); err != nil {
		return err
	}
	_, err := s.rsaKeys.set(ctx)
	return err
}

func (s *storage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	c, ok := s.clients[id]
	if !ok {
		return nil, errNotFound{"client"}
	}
	return c, nil
}

// AuthorizeClientIDSecret completes op.Storage (client authentication:
// clientauth.go).
func (s *storage) AuthorizeClientIDSecret(context.Context, string, string) error { return errNotServed }

// ClientCredentials and ClientCredentialsTokenRequest complete
// op.ClientCredentialsStorage (the grant: token.go, clientCredentialsGrant).
func (s *storage) ClientCredentials(context.Context, string, string) (op.Client, error) {
	return nil, errNotServed
}

func (s *storage) ClientCredentialsTokenRequest(context.Context, string, []string) (op.TokenRequest, error) {
	return nil, errNotServed
}

// SetUserinfoFromScopes completes op.Storage. The library fills no claims
// of ours: ID tokens are built by jwt.go and /userinfo by userinfo.go,
// both from userClaims.
func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// userClaims are the guest's claims of the granted scopes, in ID tokens
// and at /userinfo. email_verified false is left out, as the library's
// oidc.Bool did.
type userClaims struct {
	Subject           string `json:"sub,omitempty"`
	Name              string `json:"name,omitempty"`
	PreferredUsername string `json:"preferred_username,omitempty"`
	Email             string `json:"email,omitempty"`
	EmailVerified     bool   `json:"email_verified,omitempty"`
	Tenant            string `json:"tid"`
	IDP               string `json:"idp"`
	SessionID         string `json:"sid,omitempty"`
}

func (s *storage) userClaims(ident *Identity, scopes []string) userClaims {
	c := userClaims{Subject: ident.Subject, Tenant: s.tenant, IDP: ident.Source, SessionID: ident.SessionID}
	if slices.Contains(scopes, oidc.ScopeEmail) {
		c.Email = ident.Email
		c.EmailVerified = ident.EmailVerified
	}
	if slices.Contains(scopes, oidc.ScopeProfile) {
		// Always a name with profile: common relying parties (Dex's oidc
		// connector) refuse an ID token without one. A guest who gave no
		// display name is called by their address, which is also the
		// username they sign in with.
		c.Name = ident.Name
		if c.Name == "" {
			c.Name = ident.Email
		}
		c.PreferredUsername = ident.Email
	}
	return c
}

// SetUserinfoFromToken completes op.Storage (userinfo: userinfo.go).
func (s *storage) SetUserinfoFromToken(context.Context, *oidc.UserInfo, string, string, string) error {
	return errNotServed
}

// SetIntrospectionFromToken completes op.Storage (introspection:
// introspect.go).
func (s *storage) SetIntrospectionFromToken(context.Context, *oidc.IntrospectionResponse, string, string, string) error {
	return errNotServed
}

// GetPrivateClaimsFromScopes adds the tenant to every JWT access token.
func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return map[string]any{"tid": s.tenant}, nil
}

func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("private_key_jwt is not supported")
}

func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("jwt profile grant is not supported")
}

func (s *storage) Health(ctx context.Context) error { return s.st.Ping(ctx) }
