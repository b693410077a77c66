package op

import (
	"encoding/json"

	"github.com/guestpass/guestpass/pkg/strictjson"
)

// Hand-written decoders of the records every refresh grant reads. Each
// reads only the bytes json.Marshal writes for its struct (jsonenc.go);
// on anything else it gives up and json.Unmarshal decodes the record, so
// the values are json.Unmarshal's either way (jsondec_test.go checks both
// on random records and fuzzed input).

// decodeRefreshToken is json.Unmarshal(b, rt), rt a zero value.
func decodeRefreshToken(b []byte, rt *refreshToken) error {
	if readRefreshToken(b, rt) {
		return nil
	}
	*rt = refreshToken{}
	return json.Unmarshal(b, rt)
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
