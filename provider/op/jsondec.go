package op

import (
	"encoding/json"
	"strconv"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/guestpass/guestpass/pkg/strictjson"
)

// Hand-written decoders of the records every refresh grant reads. Each
// reads only the bytes json.Marshal writes for its struct (jsonenc.go);
// on anything else it gives up and json.Unmarshal decodes the record, so
// the values are json.Unmarshal's either way (jsondec_test.go checks both
// on random records and fuzzed input).

// decodeJSON is json.Unmarshal(b, v), v a zero value: read's one pass
// when b is as json.Marshal writes a T, else (v reset) json.Unmarshal.
func decodeJSON[T any](b []byte, v *T, read func([]byte, *T) bool) error {
	if read(b, v) {
		return nil
	}
	var zero T
	*v = zero
	return json.Unmarshal(b, v)
}

// decodeRefreshToken is json.Unmarshal(b, rt), rt a zero value.
func decodeRefreshToken(b []byte, rt *refreshToken) error {
	return decodeJSON(b, rt, readRefreshToken)
}

// readRefreshToken reads b into rt, a zero value, if b is as json.Marshal
// writes a refresh token; false (rt partly written) if not.
func readRefreshToken(b []byte, rt *refreshToken) bool {
	r := strictjson.NewReader(b)
	r.Lit(`{"tid":`)
	rt.Tenant = r.String()
	r.Lit(`,"fam":`)
	rt.Family = r.String()
	r.Lit(`,"cid":`)
	rt.ClientID = r.String()
	r.Lit(`,"sc":`)
	rt.Scopes = r.Strings()
	r.Lit(`,"id_":`)
	readIdentity(&r, &rt.Identity)
	if r.Opt(`,"used":`) {
		rt.Used = r.Bool()
	}
	r.Lit(`,"exp":`)
	rt.Expires = r.Time()
	r.Lit(`}`)
	return r.OK()
}

// readIdentity reads an Identity object as json.Marshal writes it.
func readIdentity(r *strictjson.Reader, id *Identity) {
	r.Lit(`{"sub":`)
	id.Subject = r.String()
	r.Lit(`,"email":`)
	id.Email = r.String()
	if r.Opt(`,"ev":`) {
		id.EmailVerified = r.Bool()
	}
	if r.Opt(`,"name":`) {
		id.Name = r.String()
	}
	r.Lit(`,"idp":`)
	id.Source = r.String()
	if r.Opt(`,"amr":`) {
		id.AMR = r.Strings()
	}
	r.Lit(`,"at":`)
	id.AuthTime = r.Time()
	r.Lit(`,"sid":`)
	id.SessionID = r.String()
	r.Lit(`}`)
}

// decodeAuthRequestJSON is json.Unmarshal(b, a), a a zero value: an auth
// request is read by every step of a sign-in and by the code exchange.
func decodeAuthRequestJSON(b []byte, a *AuthRequest) error {
	return decodeJSON(b, a, readAuthRequest)
}

// readAuthRequest reads b into a, a zero value, if b is as json.Marshal
// writes an auth request; false (a partly written) if not.
func readAuthRequest(b []byte, a *AuthRequest) bool {
	r := strictjson.NewReader(b)
	r.Lit(`{"id":`)
	a.ID = r.String()
	r.Lit(`,"tid":`)
	a.Tenant = r.String()
	r.Lit(`,"cid":`)
	a.ClientID = r.String()
	r.Lit(`,"ru":`)
	a.RedirectURI = r.String()
	r.Lit(`,"sc":`)
	a.Scopes = r.Strings()
	if r.Opt(`,"st":`) {
		a.State = r.String()
	}
	if r.Opt(`,"no":`) {
		a.Nonce = r.String()
	}
	r.Lit(`,"rt":`)
	a.ResponseType = oidc.ResponseType(r.String())
	if r.Opt(`,"rm":`) {
		a.ResponseMode = oidc.ResponseMode(r.String())
	}
	if r.Opt(`,"cc":`) {
		cc := &oidc.CodeChallenge{}
		r.Lit(`{"Challenge":`)
		cc.Challenge = r.String()
		r.Lit(`,"Method":`)
		cc.Method = oidc.CodeChallengeMethod(r.String())
		r.Lit(`}`)
		a.CodeChallenge = cc
	}
	if r.Opt(`,"pr":`) {
		a.Prompt = r.Strings()
	}
	if r.Opt(`,"ma":`) {
		n := uint(r.Uint(strconv.IntSize))
		a.MaxAge = &n
	}
	if r.Opt(`,"lh":`) {
		a.LoginHint = r.String()
	}
	if r.Opt(`,"ul":`) {
		a.UILocales = r.Strings()
	}
	if r.Opt(`,"hs":`) {
		a.HintSubject = r.String()
	}
	r.Lit(`,"ca":`)
	a.CreatedAt = r.Time()
	if r.Opt(`,"id_":`) {
		a.Identity = &Identity{}
		readIdentity(&r, a.Identity)
	}
	if r.Opt(`,"bnd":`) {
		a.Binding = r.String()
	}
	r.Lit(`}`)
	return r.OK()
}
