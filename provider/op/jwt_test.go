package op

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/crypto"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/guestpass/guestpass/pkg/store"
	"github.com/guestpass/guestpass/pkg/store/memory"
)

// testKeyRing is a tenant's key ring over a memory store, and its
// current signing key.
func testKeyRing(tb testing.TB) (store.Store, *keyRing, *signingKey) {
	tb.Helper()
	st := memory.New(time.Now)
	tb.Cleanup(func() { _ = st.Close() })
	ring, err := newKeyRing(jose.ES256, st, "fabrikam", make([]byte, 32), time.Now, 0)
	if err != nil {
		tb.Fatal(err)
	}
	key, err := ring.current(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return st, ring, key
}

// verifiedJWT checks raw's ES256 signature with k's public key and returns
// its protected header and claims.
func verifiedJWT(t *testing.T, k *signingKey, raw string) (jose.Header, map[string]any) {
	t.Helper()
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatalf("parse %q: %v", raw, err)
	}
	payload, err := jws.Verify(&k.key.PublicKey)
	if err != nil {
		t.Fatalf("signature: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return jws.Signatures[0].Protected, claims
}

// sameClaims compares two claim sets; the times taken from the wall clock
// (exp and iat of ID tokens, iat and nbf of access tokens) may differ by
// the second that passed between the two signings.
func sameClaims(t *testing.T, what string, got, want map[string]any) {
	t.Helper()
	clockish := map[string]bool{"iat": true, "nbf": true}
	if what == "id token" {
		clockish["exp"] = true
	}
	for k := range clockish {
		g, _ := got[k].(float64)
		w, _ := want[k].(float64)
		if g-w > 1 || w-g > 1 {
			t.Errorf("%s: %s = %v, want %v", what, k, got[k], want[k])
		}
		delete(got, k)
		delete(want, k)
	}
	if !maps.EqualFunc(got, want, func(a, b any) bool {
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		return string(ja) == string(jb)
	}) {
		t.Errorf("%s claims:\n got %v\nwant %v", what, got, want)
	}
}

// Our tokens carry exactly the header and claims the library's builders
// (op.CreateIDToken, oidc.AccessTokenClaims through go-jose) gave them,
// for a code exchange and for a refresh that narrows the scope.
func TestTokensMatchTheLibrarys(t *testing.T) {
	ctx := context.Background()
	st, ring, key := testKeyRing(t)
	s := &storage{tenant: "fabrikam", st: st, keys: ring, clock: time.Now}
	c := newClient("fabrikam", Client{ID: "portal", Secret: "s"})
	issuer := "https://id.example/fabrikam"
	ident := Identity{Subject: "sub-1", Email: "ada@guest.example", EmailVerified: true, Source: "otp",
		AMR: []string{"otp"}, AuthTime: time.Now().Add(-time.Minute).Truncate(time.Second), SessionID: "sess-1"}
	unverified := ident
	unverified.EmailVerified, unverified.SessionID, unverified.Name = false, "", "Ada"
	all := []string{oidc.ScopeOpenID, oidc.ScopeEmail, oidc.ScopeProfile, oidc.ScopeOfflineAccess}
	narrowed := &refreshToken{Tenant: "fabrikam", Family: "fam", ClientID: "portal", Scopes: all, Identity: unverified}
	narrowed.SetCurrentScopes([]string{oidc.ScopeOpenID, oidc.ScopeEmail})
	cases := []struct {
		name string
		req  op.IDTokenRequest
		code string
	}{
		{"code exchange", &AuthRequest{ID: "r1", ClientID: "portal", Scopes: all, Nonce: "n-1", Identity: &ident}, "the-code"},
		{"refresh", &refreshToken{Tenant: "fabrikam", Family: "fam", ClientID: "portal", Scopes: all, Identity: ident}, ""},
		{"narrowed refresh, unverified address", narrowed, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			exp := time.Now().Add(accessTokenTTL).UTC()
			at, err := key.signJWS(key.atHeader, s.accessTokenClaims(issuer, tc.req, c, "fam.at-id", exp))
			if err != nil {
				t.Fatal(err)
			}
			libClaims := oidc.NewAccessTokenClaims(issuer, tc.req.GetSubject(), tc.req.GetAudience(), exp, "fam.at-id", "portal", 0)
			libClaims.Scopes = tc.req.GetScopes()
			libClaims.Claims = map[string]any{"tid": "fabrikam"}
			signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: &jose.JSONWebKey{Key: key.key, KeyID: key.id}},
				(&jose.SignerOptions{}).WithType(accessTokenType))
			if err != nil {
				t.Fatal(err)
			}
			libAT, err := crypto.Sign(libClaims, signer)
			if err != nil {
				t.Fatal(err)
			}
			gotH, got := verifiedJWT(t, key, at)
			wantH, want := verifiedJWT(t, key, libAT)
			if gotH.KeyID != wantH.KeyID || gotH.Algorithm != wantH.Algorithm || gotH.ExtraHeaders["typ"] != wantH.ExtraHeaders["typ"] {
				t.Errorf("access token header %+v, want %+v", gotH, wantH)
			}
			sameClaims(t, "access token", got, want)

			claims, err := s.idTokenClaims(issuer, tc.req, c, at, tc.code)
			if err != nil {
				t.Fatal(err)
			}
			id, err := key.signJWS(key.idHeader, claims)
			if err != nil {
				t.Fatal(err)
			}
			libID, err := op.CreateIDToken(op.ContextWithIssuer(ctx, issuer), issuer, tc.req, c.IDTokenLifetime(), at, tc.code, libStorage{s}, c)
			if err != nil {
				t.Fatal(err)
			}
			gotH, got = verifiedJWT(t, key, id)
			wantH, want = verifiedJWT(t, key, libID)
			if gotH.KeyID != wantH.KeyID || gotH.Algorithm != wantH.Algorithm || gotH.ExtraHeaders["typ"] != wantH.ExtraHeaders["typ"] {
				t.Errorf("id token header %+v, want %+v", gotH, wantH)
			}
			sameClaims(t, "id token", got, want)
		})
	}
}

// libStorage gives op.CreateIDToken the guest's claims the way the
// storage did while the library built ID tokens, through its UserInfo.
type libStorage struct{ *storage }

func (s libStorage) SetUserinfoFromRequest(_ context.Context, u *oidc.UserInfo, r op.IDTokenRequest, scopes []string) error {
	ident := identityOf(r)
	if ident == nil {
		return nil
	}
	c := s.userClaims(ident, scopes)
	u.Subject = c.Subject
	u.Email = c.Email
	u.EmailVerified = oidc.Bool(c.EmailVerified)
	u.Name = c.Name
	u.PreferredUsername = c.PreferredUsername
	u.AppendClaims("tid", c.Tenant)
	u.AppendClaims("idp", c.IDP)
	if c.SessionID != "" {
		u.AppendClaims("sid", c.SessionID)
	}
	return nil
}

// BenchmarkSignJWS is one ID token's signature, in each algorithm: almost
// all of it is the signature itself.
//
//	go test -run '^$' -bench BenchmarkSignJWS -benchmem ./provider/op
func BenchmarkSignJWS(b *testing.B) {
	for _, alg := range []jose.SignatureAlgorithm{jose.ES256, jose.RS256} {
		b.Run(string(alg), func(b *testing.B) {
			st := memory.New(time.Now)
			defer st.Close()
			ring, err := newKeyRing(alg, st, "fabrikam", make([]byte, 32), time.Now, 0)
			if err != nil {
				b.Fatal(err)
			}
			key, err := ring.current(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			benchmarkSignJWS(b, key)
		})
	}
}

func benchmarkSignJWS(b *testing.B, key *signingKey) {
	s := &storage{tenant: "fabrikam"}
	ident := Identity{Subject: "sub-1", Email: "ada@guest.example", EmailVerified: true, Source: "otp",
		AMR: []string{"otp"}, AuthTime: time.Now(), SessionID: "sess-1"}
	req := &refreshToken{Tenant: "fabrikam", Family: "fam", ClientID: "portal",
		Scopes: []string{oidc.ScopeOpenID, oidc.ScopeEmail, oidc.ScopeProfile}, Identity: ident}
	c := newClient("fabrikam", Client{ID: "portal", Secret: "s"})
	b.ReportAllocs()
	for b.Loop() {
		claims, err := s.idTokenClaims("https://id.example/fabrikam", req, c, "access-token", "")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := key.signJWS(key.idHeader, claims); err != nil {
			b.Fatal(err)
		}
	}
}

// verifyJWS accepts exactly the tokens of a published key with the
// expected typ, including those go-jose signed before jwt.go did.
func TestVerifyJWS(t *testing.T) {
	ctx := context.Background()
	_, ring, key := testKeyRing(t)
	claims := &accessClaims{Issuer: "https://id.example/fabrikam", JWTID: "x"}
	at, err := key.signJWS(key.atHeader, claims)
	if err != nil {
		t.Fatal(err)
	}
	id, err := key.signJWS(key.idHeader, claims)
	if err != nil {
		t.Fatal(err)
	}
	joseSigned := func(alg jose.SignatureAlgorithm, k any, kid, typ string) string {
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: &jose.JSONWebKey{Key: k, KeyID: kid}},
			(&jose.SignerOptions{}).WithType(jose.ContentType(typ)))
		if err != nil {
			t.Fatal(err)
		}
		tok, err := crypto.Sign(claims, signer)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	otherStore := memory.New(time.Now)
	defer otherStore.Close()
	other, err := newKeyRing(jose.ES256, otherStore, "fabrikam", make([]byte, 32), time.Now, 0)
	if err != nil {
		t.Fatal(err)
	}
	otherKey, err := other.current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	head, rest, _ := strings.Cut(at, ".")
	payload, sig, _ := strings.Cut(rest, ".")
	for _, tc := range []struct {
		name, raw string
		ok        bool
	}{
		{"ours", at, true},
		{"signed by go-jose, as before jwt.go", joseSigned(jose.ES256, key.key, key.id, accessTokenType), true},
		{"an ID token", id, false},
		{"a key of another ring under our kid", joseSigned(jose.ES256, otherKey.key, key.id, accessTokenType), false},
		{"an unknown kid", joseSigned(jose.ES256, key.key, "nope", accessTokenType), false},
		{"HS256 with our kid", joseSigned(jose.HS256, []byte("0123456789abcdef0123456789abcdef"), key.id, accessTokenType), false},
		{"another payload", head + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"jti":"y"}`)) + "." + sig, false},
		{"no signature", head + "." + payload + ".", false},
		{"four parts", at + ".x", false},
		{"garbage", "not a token", false},
	} {
		got, err := ring.verifyJWS(ctx, tc.raw, accessTokenType)
		if tc.ok && (err != nil || !strings.Contains(string(got), `"jti":"x"`)) {
			t.Errorf("%s: %v, want the payload", tc.name, err)
		}
		if !tc.ok && err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}

// An access token is this tenant's and live only with its issuer and
// before its exp, whatever its signature: one signed for another issuer
// (a configuration that shared keys) or past its time is refused.
func TestVerifiedAccessIssuerAndExpiry(t *testing.T) {
	ctx := context.Background()
	_, ring, key := testKeyRing(t)
	const issuer = "https://id.example/fabrikam"
	// The expiry is read on the tenant's clock (the one that set the
	// record's expiry), not the wall clock: "later" runs it 2 minutes on.
	var ahead time.Duration
	tn := &Tenant{issuer: issuer, storage: &storage{keys: ring, clock: func() time.Time { return time.Now().Add(ahead) }}}
	live := time.Now().Add(time.Minute).Unix()
	for _, tc := range []struct {
		name  string
		iss   string
		exp   int64
		ahead time.Duration
		ok    bool
	}{
		{"live", issuer, live, 0, true},
		{"another issuer", "https://id.example/contoso", live, 0, false},
		{"expired", issuer, time.Now().Add(-time.Second).Unix(), 0, false},
		{"no exp", issuer, 0, 0, false},
		{"expired on the tenant's clock", issuer, live, 2 * time.Minute, false},
	} {
		ahead = tc.ahead
		raw, err := key.signJWS(key.atHeader, &accessClaims{Issuer: tc.iss, Subject: "s", Expiration: tc.exp, JWTID: "fam.id"})
		if err != nil {
			t.Fatal(err)
		}
		c, err := tn.verifiedAccess(ctx, raw)
		if (err == nil) != tc.ok {
			t.Errorf("%s: verifiedAccess = %+v, %v; want ok=%v", tc.name, c, err, tc.ok)
		}
		if tc.ok && (c == nil || c.JWTID != "fam.id" || c.Subject != "s") {
			t.Errorf("%s: claims %+v", tc.name, c)
		}
	}
}
