package op

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/guestpass/guestpass/pkg/appendjson/appendjsontest"
)

// plainString tells whether json.Marshal writes s without an escape.
func plainString(s string) bool {
	b, _ := json.Marshal(s)
	return string(b) == `"`+s+`"`
}

func plainRefreshToken(rt *refreshToken) bool {
	for _, s := range append([]string{rt.Tenant, rt.Family, rt.ClientID, rt.Identity.Subject, rt.Identity.Email,
		rt.Identity.Name, rt.Identity.Source, rt.Identity.SessionID}, append(rt.Scopes, rt.Identity.AMR...)...) {
		if !plainString(s) {
			return false
		}
	}
	return true
}

// plainify replaces the strings of rt that json.Marshal escapes with
// ones it does not (the common case: ids, addresses, names).
func plainify(rt *refreshToken) {
	fix := func(s *string) {
		if !plainString(*s) {
			*s = strings.Map(func(c rune) rune {
				if c < ' ' || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || c == '\u2028' ||
					c == '\u2029' || c == utf8.RuneError {
					return 'x'
				}
				return c
			}, *s)
		}
	}
	for _, p := range []*string{&rt.Tenant, &rt.Family, &rt.ClientID, &rt.Identity.Subject, &rt.Identity.Email,
		&rt.Identity.Name, &rt.Identity.Source, &rt.Identity.SessionID} {
		fix(p)
	}
	for i := range rt.Scopes {
		fix(&rt.Scopes[i])
	}
	for i := range rt.Identity.AMR {
		fix(&rt.Identity.AMR[i])
	}
}

// sameDecode fails unless decodeRefreshToken gives what json.Unmarshal
// does for b (values, or an error for both); it tells whether the strict
// reader took b.
func sameDecode(t *testing.T, b []byte) bool {
	t.Helper()
	var want, got, strict refreshToken
	wantErr := json.Unmarshal(b, &want)
	err := decodeRefreshToken(b, &got)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%q: error %v, json.Unmarshal's %v", b, err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\n got %#v\nwant %#v", b, got, want)
	}
	took := readRefreshToken(b, &strict)
	if took && (wantErr != nil || !reflect.DeepEqual(strict, want)) {
		t.Fatalf("%q: the strict reader took it as %#v; json.Unmarshal: %#v, %v", b, strict, want, wantErr)
	}
	return took
}

// Every record json.Marshal writes decodes to json.Unmarshal's values,
// and one without escaped strings is read by the strict reader (the
// fast path is the one a refresh grant takes).
func TestDecodeRefreshTokenRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 17))
	fast := 0
	for i := range 10000 {
		rt := randRefreshToken(r)
		if i%2 == 0 {
			plainify(&rt)
		}
		b, err := json.Marshal(rt)
		if err != nil {
			continue
		}
		took := sameDecode(t, b)
		if plainRefreshToken(&rt) && !took {
			t.Fatalf("%s: a record without escapes was not read by the strict reader", b)
		}
		if took {
			fast++
		}
	}
	if fast < 2000 {
		t.Fatalf("only %d records took the strict reader", fast)
	}
}

// refreshRecord is a record as json.Marshal writes it.
const refreshRecordJSON = `{"tid":"fabrikam","fam":"3f2c1d9e-1111-4222-8333-444455556666","cid":"portal",` +
	`"sc":["openid","email"],"id_":{"sub":"s-1","email":"guest@example.com","ev":true,"name":"Guest Ä",` +
	`"idp":"otp","amr":["otp"],"at":"2026-11-29T20:00:00.123456789Z","sid":"sid-1"},` +
	`"exp":"2026-11-29T21:00:00+01:00"}`

// Other spellings of a record (what another writer could have stored)
// give json.Unmarshal's values: the strict reader leaves them to it.
func TestDecodeRefreshTokenOtherShapes(t *testing.T) {
	if !sameDecode(t, []byte(refreshRecordJSON)) {
		t.Fatal("the canonical record was not read by the strict reader")
	}
	for _, tc := range []struct{ from, to string }{
		{`{"tid"`, ` {"tid"`}, // whitespace
		{`"exp":"2026-11-29T21:00:00+01:00"}`, `"exp":"2026-11-29T21:00:00+01:00"} `}, // trailing space
		{`"tid"`, `"TID"`}, // case-insensitive name
		{`"cid":"portal"`, `"cid":"portal","cid":"other"`},      // duplicate
		{`"cid":"portal"`, `"cid":"portal","x":{"a":[1,null]}`}, // unknown member
		{`"sc":["openid","email"]`, `"sc":null`},
		{`"sc":["openid","email"]`, `"sc":[]`},
		{`"sc":["openid","email"]`, `"sc":["openid",null]`},
		{`"amr":["otp"]`, `"amr":null`},
		{`"amr":["otp"],`, ``},
		{`"ev":true,`, `"ev":false,`},
		{`"ev":true,`, ``},
		{`"name":"Guest Ä",`, `"name":"",`},
		{`"name":"Guest Ä",`, `"name":"Guest \u00c4 \u003c\"",`}, // escapes
		{`"idp":"otp"`, `"idp":"o\/tp"`},
		{`"at":"2026-11-29T20:00:00.123456789Z"`, `"at":null`},
		{`"at":"2026-11-29T20:00:00.123456789Z"`, `"at":"2026-11-29 20:00:00Z"`}, // not RFC 3339
		{`"exp":"2026-11-29T21:00:00+01:00"`, `"used":true,"exp":"2026-11-29T21:00:00+01:00"`},
		{`"exp":"2026-11-29T21:00:00+01:00"`, `"used":false,"exp":"2026-11-29T21:00:00+01:00"`},
		{`"exp":"2026-11-29T21:00:00+01:00"`, `"exp":"2026-11-29T21:00:00+01:00","used":true`}, // order
		{`"tid":"fabrikam"`, `"tid":"fab\x01rikam"`},                                           // a control character: invalid JSON
		{`"tid":"fabrikam"`, "\"tid\":\"fab\xffrikam\""},                                       // invalid UTF-8
		{`"tid":"fabrikam"`, `"tid":7`},
		{`}`, `}}`},
	} {
		b := strings.Replace(refreshRecordJSON, tc.from, tc.to, 1)
		if b == refreshRecordJSON && tc.from != tc.to {
			t.Fatalf("%q is not in the record", tc.from)
		}
		sameDecode(t, []byte(b))
	}
	// Every prefix of the record: truncated, invalid JSON for both.
	for i := range len(refreshRecordJSON) {
		sameDecode(t, []byte(refreshRecordJSON[:i]))
	}
}

func FuzzDecodeRefreshToken(f *testing.F) {
	f.Add([]byte(refreshRecordJSON))
	f.Add([]byte(strings.Replace(refreshRecordJSON, `"name":"Guest Ä",`, ``, 1)))
	f.Add([]byte(`{"tid":"t","fam":"f","cid":"c","sc":null,"id_":{"sub":"","email":"","idp":"","at":"0001-01-01T00:00:00Z","sid":""},"used":true,"exp":"0001-01-01T00:00:00Z"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if !utf8.Valid(b) && len(b) > 4096 {
			return
		}
		sameDecode(t, b)
	})
}

func randAuthRequest(r *rand.Rand) AuthRequest {
	s := appendjsontest.String
	a := AuthRequest{ID: s(r), Tenant: s(r), ClientID: s(r), RedirectURI: s(r), Scopes: appendjsontest.Strings(r),
		State: s(r), Nonce: s(r), ResponseType: oidc.ResponseType(s(r)), ResponseMode: oidc.ResponseMode(s(r)),
		Prompt: appendjsontest.Strings(r), LoginHint: s(r), UILocales: appendjsontest.Strings(r), HintSubject: s(r),
		CreatedAt: appendjsontest.Time(r), Binding: s(r)}
	if r.IntN(2) == 0 {
		a.CodeChallenge = &oidc.CodeChallenge{Challenge: s(r), Method: oidc.CodeChallengeMethod(s(r))}
	}
	if r.IntN(2) == 0 {
		n := uint(r.Uint64())
		if r.IntN(2) == 0 {
			n = uint(r.IntN(3)) // 0 is written too: a pointer
		}
		a.MaxAge = &n
	}
	if r.IntN(2) == 0 {
		id := randIdentity(r)
		a.Identity = &id
	}
	return a
}

// plainAuthRequest replaces the strings json.Marshal escapes, through a
// JSON round trip of the fixes plainify makes.
func plainAuthRequest(a *AuthRequest) {
	fix := func(s *string) {
		rt := refreshToken{Tenant: *s}
		plainify(&rt)
		*s = rt.Tenant
	}
	for _, p := range []*string{&a.ID, &a.Tenant, &a.ClientID, &a.RedirectURI, &a.State, &a.Nonce, &a.LoginHint,
		&a.HintSubject, &a.Binding, (*string)(&a.ResponseType), (*string)(&a.ResponseMode)} {
		fix(p)
	}
	for _, ss := range [][]string{a.Scopes, a.Prompt, a.UILocales} {
		for i := range ss {
			fix(&ss[i])
		}
	}
	if a.CodeChallenge != nil {
		fix(&a.CodeChallenge.Challenge)
		fix((*string)(&a.CodeChallenge.Method))
	}
	if a.Identity != nil {
		rt := refreshToken{Identity: *a.Identity}
		plainify(&rt)
		*a.Identity = rt.Identity
	}
}

// sameAuthRequestDecode is sameDecode for auth requests.
func sameAuthRequestDecode(t *testing.T, b []byte) bool {
	t.Helper()
	var want, got, strict AuthRequest
	wantErr := json.Unmarshal(b, &want)
	err := decodeAuthRequestJSON(b, &got)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%q: error %v, json.Unmarshal's %v", b, err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\n got %#v\nwant %#v", b, got, want)
	}
	took := readAuthRequest(b, &strict)
	if took && (wantErr != nil || !reflect.DeepEqual(strict, want)) {
		t.Fatalf("%q: the strict reader took it as %#v; json.Unmarshal: %#v, %v", b, strict, want, wantErr)
	}
	return took
}

func TestAuthRequestJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 23))
	fast := 0
	for i := range 10000 {
		a := randAuthRequest(r)
		if i%2 == 0 {
			plainAuthRequest(&a)
		}
		sameJSON(t, &a) // the encoder
		b, err := json.Marshal(&a)
		if err != nil {
			continue
		}
		took := sameAuthRequestDecode(t, b)
		if i%2 == 0 && !took {
			t.Fatalf("%s: a record without escapes was not read by the strict reader", b)
		}
		if took {
			fast++
		}
	}
	if fast < 2000 {
		t.Fatalf("only %d records took the strict reader", fast)
	}
}

const authRequestJSON = `{"id":"9d8c7b6a-5f4e-4d3c-2b1a-0f9e8d7c6b5a","tid":"fabrikam","cid":"portal",` +
	`"ru":"https://app.example.com/cb","sc":["openid","email"],"st":"xyz","no":"n-1","rt":"code",` +
	`"cc":{"Challenge":"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM","Method":"S256"},"ma":300,` +
	`"ca":"2026-11-29T20:00:00.123Z","id_":{"sub":"s","email":"e@example.com","idp":"otp","at":"2026-11-29T20:01:00Z",` +
	`"sid":"x"},"bnd":"abc"}`

func TestAuthRequestOtherShapes(t *testing.T) {
	if !sameAuthRequestDecode(t, []byte(authRequestJSON)) {
		t.Fatal("the canonical record was not read by the strict reader")
	}
	for _, tc := range []struct{ from, to string }{
		{`"ma":300`, `"ma":0`},
		{`"ma":300`, `"ma":00`},
		{`"ma":300`, `"ma":-1`},
		{`"ma":300`, `"ma":3.5`},
		{`"ma":300`, `"ma":3e2`},
		{`"ma":300`, `"ma":18446744073709551616`},
		{`"ma":300`, `"ma":null`},
		{`"cc":{"Challenge"`, `"cc":{"challenge"`},
		{`"cc":{"Challenge":"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM","Method":"S256"},`, `"cc":null,`},
		{`,"Method":"S256"`, ``},
		{`"id_":{"sub":"s","email":"e@example.com","idp":"otp","at":"2026-11-29T20:01:00Z","sid":"x"},`, `"id_":null,`},
		{`"rt":"code"`, `"rt":"code","rt":"token"`},
		{`"st":"xyz"`, `"st":"x\u0079z"`},
		{`"bnd":"abc"}`, `"bnd":"abc","extra":1}`},
	} {
		b := strings.Replace(authRequestJSON, tc.from, tc.to, 1)
		if b == authRequestJSON {
			t.Fatalf("%q is not in the record", tc.from)
		}
		sameAuthRequestDecode(t, []byte(b))
	}
	for i := range len(authRequestJSON) {
		sameAuthRequestDecode(t, []byte(authRequestJSON[:i]))
	}
}

func FuzzDecodeAuthRequest(f *testing.F) {
	f.Add([]byte(authRequestJSON))
	f.Fuzz(func(t *testing.T, b []byte) { sameAuthRequestDecode(t, b) })
}
