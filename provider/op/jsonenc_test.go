package op

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/guestpass/guestpass/pkg/appendjson/appendjsontest"
)

func randIdentity(r *rand.Rand) Identity {
	s := appendjsontest.String
	return Identity{Subject: s(r), Email: s(r), EmailVerified: r.IntN(2) == 0, Name: s(r), Source: s(r),
		AMR: appendjsontest.Strings(r), AuthTime: appendjsontest.Time(r), SessionID: s(r)}
}

func randRefreshToken(r *rand.Rand) refreshToken {
	s := appendjsontest.String
	return refreshToken{Tenant: s(r), Family: s(r), ClientID: s(r), Scopes: appendjsontest.Strings(r),
		Identity: randIdentity(r), Used: r.IntN(2) == 0, Expires: appendjsontest.Time(r)}
}

func randInt(r *rand.Rand) int64 {
	if r.IntN(3) == 0 {
		return 0 // omitted
	}
	return r.Int64() - r.Int64()
}

// sameJSON fails unless v's hand-written encoder writes what json.Marshal
// does (or both fail).
func sameJSON(t *testing.T, v jsonAppender) {
	t.Helper()
	want, wantErr := json.Marshal(v)
	got, err := marshalJSON(v, 0)
	if (err != nil) != (wantErr != nil) || !bytes.Equal(got, want) {
		t.Fatalf("%#v:\n got %s (%v)\nwant %s (%v)", v, got, err, want, wantErr)
	}
	if wantErr == nil {
		if _, err := v.appendJSON(nil); err != nil {
			t.Fatalf("%#v: the encoder fails where json.Marshal does not: %v", v, err)
		}
	}
}

func TestEncodersMatchEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	s := appendjsontest.String
	for range 5000 {
		id := randIdentity(r)
		sameJSON(t, &id)
		rt := randRefreshToken(r)
		sameJSON(t, &rt)
		at := accessToken{Tenant: s(r), ClientID: s(r), Subject: s(r), Scopes: appendjsontest.Strings(r),
			Expires: appendjsontest.Time(r), Family: s(r)}
		if r.IntN(3) > 0 {
			at.Identity = &id
		}
		sameJSON(t, &at)
		ac := accessClaims{Issuer: s(r), Subject: s(r), Audience: appendjsontest.Strings(r), Expiration: randInt(r),
			IssuedAt: randInt(r), NotBefore: randInt(r), ClientID: s(r), JWTID: s(r), Scope: s(r), Tenant: s(r)}
		sameJSON(t, &ac)
		ic := idClaims{Issuer: s(r), Audience: appendjsontest.Strings(r), Expiration: randInt(r), IssuedAt: randInt(r),
			AuthTime: randInt(r), Nonce: s(r), AMR: appendjsontest.Strings(r), AuthorizedParty: s(r), ClientID: s(r),
			AccessTokenHash: s(r), CodeHash: s(r), userClaims: userClaims{Subject: s(r), Name: s(r),
				PreferredUsername: s(r), Email: s(r), EmailVerified: r.IntN(2) == 0, Tenant: s(r), IDP: s(r), SessionID: s(r)}}
		sameJSON(t, &ic)
		uc := usedCode{Code: s(r), AccessID: s(r), Family: s(r), Until: appendjsontest.Time(r)}
		sameJSON(t, &uc)
		resp := &oidc.AccessTokenResponse{AccessToken: s(r), TokenType: s(r), RefreshToken: s(r), IDToken: s(r),
			State: s(r), Scope: appendjsontest.Strings(r)}
		if r.IntN(3) > 0 {
			resp.ExpiresIn = r.Uint64()
		}
		var want bytes.Buffer
		if err := json.NewEncoder(&want).Encode(resp); err != nil {
			t.Fatal(err)
		}
		if got := appendTokenResponse(nil, resp); !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("%#v:\n got %s\nwant %s", resp, got, want.Bytes())
		}
	}
}

// A zero and a full value of each struct match encoding/json (a field
// added to a struct but not to its encoder fails TestEncodersWriteEveryField).
func TestEncodersFullAndEmpty(t *testing.T) {
	tm := time.Date(2026, 11, 29, 20, 0, 0, 123, time.UTC)
	id := Identity{Subject: "s", Email: "e", EmailVerified: true, Name: "n", Source: "otp", AMR: []string{"otp"},
		AuthTime: tm, SessionID: "sid"}
	for _, v := range []jsonAppender{&Identity{}, &id, &refreshToken{}, &refreshToken{Tenant: "t", Family: "f",
		ClientID: "c", Scopes: []string{"openid"}, Identity: id, Used: true, Expires: tm},
		&accessToken{}, &accessToken{Tenant: "t", ClientID: "c", Subject: "s", Scopes: []string{}, Identity: &id,
			Expires: tm, Family: "f"},
		&accessClaims{}, &accessClaims{Issuer: "i", Subject: "s", Audience: []string{"a"}, Expiration: 1, IssuedAt: 2,
			NotBefore: 3, ClientID: "c", JWTID: "j", Scope: "openid", Tenant: "t"},
		&usedCode{}, &usedCode{Code: "c", AccessID: "a", Family: "f", Until: tm},
		&idClaims{}, &idClaims{Issuer: "i", Audience: []string{"a", "b"}, Expiration: 1, IssuedAt: 2, AuthTime: 3,
			Nonce: "n", AMR: []string{"pwd"}, AuthorizedParty: "a", ClientID: "c", AccessTokenHash: "h", CodeHash: "ch",
			userClaims: userClaims{"s", "n", "p", "e", true, "t", "i", "sid"}}} {
		sameJSON(t, v)
	}
	var want bytes.Buffer
	_ = json.NewEncoder(&want).Encode(&oidc.AccessTokenResponse{})
	if got := appendTokenResponse(nil, &oidc.AccessTokenResponse{}); !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("empty response: got %s want %s", got, want.Bytes())
	}
}

// A rotation stores the rotated-out token as json.Marshal of it used, and
// the new token's record as json.Marshal of the same grant: what a replica
// of the code before the hand-written encoders reads and writes.
func TestRotationRecordsAreMarshals(t *testing.T) {
	s, tok := refreshStorage(t)
	ctx := context.Background()
	raw, err := s.st.Get(ctx, s.k("rt", hashToken(tok)))
	if err != nil {
		t.Fatal(err)
	}
	var rt refreshToken
	if err := json.Unmarshal(raw, &rt); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		next, err := rotate(t, s, tok)
		if err != nil {
			t.Fatal(err)
		}
		rt.Used = true
		want, _ := json.Marshal(rt)
		if got, _ := s.st.Get(ctx, s.k("rt", hashToken(tok))); !bytes.Equal(got, want) {
			t.Fatalf("rotated-out record\n got %s\nwant %s", got, want)
		}
		rt.Used = false
		want, _ = json.Marshal(rt)
		if got, _ := s.st.Get(ctx, s.k("rt", hashToken(next))); !bytes.Equal(got, want) {
			t.Fatalf("new record\n got %s\nwant %s", got, want)
		}
		if !strings.HasPrefix(next, rt.Family+".") {
			t.Fatalf("new token %q does not name family %q", next, rt.Family)
		}
		tok = next
	}
}

// benchValues are a refresh grant's records, claims and response, sized
// as a real one (scopes openid email profile offline_access, an OTP guest).
func benchValues() (refreshToken, accessToken, accessClaims, idClaims, *oidc.AccessTokenResponse) {
	tm := time.Date(2026, 11, 29, 20, 0, 0, 123456789, time.UTC)
	id := Identity{Subject: "7b0e5c1a-2f4d-4c3b-9a8e-1d2c3b4a5f60", Email: "guest.name@example.com", EmailVerified: true,
		Name: "Guest Name", Source: "otp", AMR: []string{"otp"}, AuthTime: tm, SessionID: "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f"}
	scopes := []string{"openid", "email", "profile", "offline_access"}
	fam := "3f2c1d9e-1111-4222-8333-444455556666"
	rt := refreshToken{Tenant: "fabrikam", Family: fam, ClientID: "portal", Scopes: scopes, Identity: id, Expires: tm}
	at := accessToken{Tenant: "fabrikam", ClientID: "portal", Subject: id.Subject, Scopes: scopes, Identity: &id,
		Expires: tm, Family: fam}
	ac := accessClaims{Issuer: "https://id.example.com/fabrikam", Subject: id.Subject, Audience: []string{"portal"},
		Expiration: 1796000000, IssuedAt: 1795996400, NotBefore: 1795996400, ClientID: "portal",
		JWTID: fam + ".9d8c7b6a-5f4e-4d3c-2b1a-0f9e8d7c6b5a", Scope: "openid email profile offline_access", Tenant: "fabrikam"}
	ic := idClaims{Issuer: ac.Issuer, Audience: []string{"portal"}, Expiration: 1795996700, IssuedAt: 1795996400,
		AuthTime: 1795990000, AMR: []string{"otp"}, AuthorizedParty: "portal", ClientID: "portal",
		AccessTokenHash: "q3hG0e4X1YbK2mZl7VwR9A", userClaims: userClaims{Subject: id.Subject, Name: id.Name,
			PreferredUsername: id.Email, Email: id.Email, EmailVerified: true, Tenant: "fabrikam", IDP: "otp", SessionID: id.SessionID}}
	resp := &oidc.AccessTokenResponse{AccessToken: strings.Repeat("a", 560), TokenType: "Bearer",
		RefreshToken: fam + ".Zk3m9Qx0Lr5Tb8Wc2Yd6Fh1Jn4Pv7Sg0Ua3Ie6Ko9Mz", ExpiresIn: 3599,
		IDToken: strings.Repeat("i", 720), Scope: scopes}
	return rt, at, ac, ic, resp
}

// BenchmarkJSON compares each hand-written encoder (or the work it
// removes) with the encoding/json call it replaced.
func BenchmarkJSON(b *testing.B) {
	rt, at, ac, ic, resp := benchValues()
	raw, _ := json.Marshal(rt)
	pair := func(name string, std, hand func()) {
		b.Run(name+"/encoding-json", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				std()
			}
		})
		b.Run(name+"/hand", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				hand()
			}
		})
	}
	pair("markUsed", func() {
		used := rt
		used.Used = true
		_, _ = json.Marshal(used)
	}, func() {
		used := rt
		used.Used = true
		_, _ = marshalJSON(&used, 512)
	})
	pair("accessTokenRecord", func() { _, _ = json.Marshal(at) }, func() { _, _ = marshalJSON(&at, 512) })
	pair("refreshTokenRecord", func() { _, _ = json.Marshal(rt) }, func() { _, _ = marshalJSON(&rt, 512) })
	pair("accessClaims", func() { _, _ = json.Marshal(&ac) }, func() { _, _ = marshalJSON(&ac, 512) })
	pair("idClaims", func() { _, _ = json.Marshal(&ic) }, func() { _, _ = marshalJSON(&ic, 512) })
	uc := usedCode{Code: hashToken("code"), AccessID: at.Family + ".9d8c7b6a-5f4e-4d3c-2b1a-0f9e8d7c6b5a",
		Family: at.Family, Until: at.Expires}
	pair("usedCodeMarker", func() { _, _ = json.Marshal(uc) }, func() { _, _ = marshalJSON(&uc, 256) })
	pair("decodeRefreshToken", func() {
		var rt refreshToken
		_ = json.Unmarshal(raw, &rt)
	}, func() {
		var rt refreshToken
		_ = decodeRefreshToken(raw, &rt)
	})
	var ar AuthRequest
	if err := json.Unmarshal([]byte(authRequestJSON), &ar); err != nil {
		b.Fatal(err)
	}
	ar.Identity = &rt.Identity
	arRaw, _ := json.Marshal(&ar)
	pair("authRequestRecord", func() { _, _ = json.Marshal(&ar) }, func() { _, _ = marshalJSON(&ar, 1024) })
	pair("decodeAuthRequest", func() {
		var a AuthRequest
		_ = json.Unmarshal(arRaw, &a)
	}, func() {
		var a AuthRequest
		_ = decodeAuthRequestJSON(arRaw, &a)
	})
	var w bytes.Buffer
	pair("tokenResponse", func() {
		w.Reset()
		_ = json.NewEncoder(&w).Encode(resp)
	}, func() {
		w.Reset()
		_, _ = w.Write(appendTokenResponse(make([]byte, 0, 2048), resp))
	})
}

// fillAll sets every field json.Marshal writes in v (an addressable
// value) to something not empty, recursively: exported fields, and the
// fields promoted from embedded structs. A field added to a struct, even
// omitempty, then appears in json.Marshal's output and must appear in its
// hand-written encoder's too.
func fillAll(v reflect.Value, depth int) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("x<&\u2028é")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(7)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(7)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1.5)
	case reflect.Pointer:
		if depth < 4 {
			p := reflect.New(v.Type().Elem())
			fillAll(p.Elem(), depth+1)
			v.Set(p)
		}
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fillAll(s.Index(0), depth+1)
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fillAll(k, depth+1)
		fillAll(e, depth+1)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Date(2026, 11, 29, 21, 0, 0, 5, time.UTC)))
			return
		}
		for i := range v.NumField() {
			f := v.Type().Field(i)
			switch {
			case f.IsExported():
				fillAll(v.Field(i), depth)
			case f.Anonymous && f.Type.Kind() == reflect.Struct:
				// An unexported embedded struct: json writes its
				// exported fields as the outer struct's.
				fillAll(reflect.NewAt(f.Type, unsafe.Pointer(v.Field(i).UnsafeAddr())).Elem(), depth)
			}
		}
	}
}

// Every field of every hand-encoded struct, set by reflection, is written
// as json.Marshal writes it: a field added to a struct (omitempty
// included, which the random values above never set) but not to its
// encoder fails here.
func TestEncodersWriteEveryField(t *testing.T) {
	for _, v := range []jsonAppender{&Identity{}, &refreshToken{}, &accessToken{}, &accessClaims{}, &idClaims{},
		&usedCode{}, &AuthRequest{}} {
		fillAll(reflect.ValueOf(v).Elem(), 0)
		sameJSON(t, v)
	}
	r := &oidc.AccessTokenResponse{}
	fillAll(reflect.ValueOf(r).Elem(), 0)
	var want bytes.Buffer
	_ = json.NewEncoder(&want).Encode(r)
	if got := appendTokenResponse(nil, r); !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("full response: got %s want %s", got, want.Bytes())
	}
}
