package op

import (
	"encoding/json"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/guestpass/guestpass/pkg/appendjson"
)

// Hand-written JSON encoders of the records and claims every token request
// writes (a refresh grant: an access token record, two sets of claims, the
// response). Each writes exactly what json.Marshal writes for its struct,
// field order and omitempty included, so the bytes other replicas read and
// clients see do not change; jsonenc_test.go compares them with
// encoding/json over many random values, and with every field set by
// reflection (TestEncodersWriteEveryField), so a field added to a struct
// but not here, omitempty or not, fails the tests. A time RFC 3339 cannot write (year outside
// 0-9999) falls back to json.Marshal, which reports it.

// jsonAppender is a value with a hand-written encoder.
type jsonAppender interface {
	appendJSON(dst []byte) ([]byte, error)
}

// marshalJSON is json.Marshal(v) through v's own encoder.
func marshalJSON(v jsonAppender, sizeHint int) ([]byte, error) {
	b, err := v.appendJSON(make([]byte, 0, sizeHint))
	if err != nil {
		return json.Marshal(v)
	}
	return b, nil
}

func (i *Identity) appendJSON(dst []byte) ([]byte, error) {
	dst = append(dst, `{"sub":`...)
	dst = appendjson.String(dst, i.Subject)
	dst = append(dst, `,"email":`...)
	dst = appendjson.String(dst, i.Email)
	if i.EmailVerified {
		dst = append(dst, `,"ev":true`...)
	}
	if i.Name != "" {
		dst = append(dst, `,"name":`...)
		dst = appendjson.String(dst, i.Name)
	}
	dst = append(dst, `,"idp":`...)
	dst = appendjson.String(dst, i.Source)
	if len(i.AMR) > 0 {
		dst = append(dst, `,"amr":`...)
		dst = appendjson.Strings(dst, i.AMR)
	}
	dst = append(dst, `,"at":`...)
	dst, err := appendjson.Time(dst, i.AuthTime)
	if err != nil {
		return dst, err
	}
	dst = append(dst, `,"sid":`...)
	dst = appendjson.String(dst, i.SessionID)
	return append(dst, '}'), nil
}

func (a *accessToken) appendJSON(dst []byte) ([]byte, error) {
	dst = append(dst, `{"tid":`...)
	dst = appendjson.String(dst, a.Tenant)
	dst = append(dst, `,"cid":`...)
	dst = appendjson.String(dst, a.ClientID)
	dst = append(dst, `,"sub":`...)
	dst = appendjson.String(dst, a.Subject)
	dst = append(dst, `,"sc":`...)
	dst = appendjson.Strings(dst, a.Scopes)
	var err error
	if a.Identity != nil {
		dst = append(dst, `,"id_":`...)
		if dst, err = a.Identity.appendJSON(dst); err != nil {
			return dst, err
		}
	}
	dst = append(dst, `,"exp":`...)
	if dst, err = appendjson.Time(dst, a.Expires); err != nil {
		return dst, err
	}
	if a.Family != "" {
		dst = append(dst, `,"fam":`...)
		dst = appendjson.String(dst, a.Family)
	}
	return append(dst, '}'), nil
}

func (r *refreshToken) appendJSON(dst []byte) ([]byte, error) {
	dst = append(dst, `{"tid":`...)
	dst = appendjson.String(dst, r.Tenant)
	dst = append(dst, `,"fam":`...)
	dst = appendjson.String(dst, r.Family)
	dst = append(dst, `,"cid":`...)
	dst = appendjson.String(dst, r.ClientID)
	dst = append(dst, `,"sc":`...)
	dst = appendjson.Strings(dst, r.Scopes)
	dst = append(dst, `,"id_":`...)
	dst, err := r.Identity.appendJSON(dst)
	if err != nil {
		return dst, err
	}
	if r.Used {
		dst = append(dst, `,"used":true`...)
	}
	dst = append(dst, `,"exp":`...)
	if dst, err = appendjson.Time(dst, r.Expires); err != nil {
		return dst, err
	}
	return append(dst, '}'), nil
}

// appendField appends ,"name":value (or {"name":value for the first
// field) of an omitempty string field; first tells which, and becomes false.
func appendField(dst []byte, first *bool, name, value string) []byte {
	if value == "" {
		return dst
	}
	dst = appendName(dst, first, name)
	return appendjson.String(dst, value)
}

func appendName(dst []byte, first *bool, name string) []byte {
	if *first {
		*first = false
		dst = append(dst, '"')
	} else {
		dst = append(dst, ',', '"')
	}
	dst = append(dst, name...)
	return append(dst, '"', ':')
}

func appendIntField(dst []byte, first *bool, name string, n int64) []byte {
	if n == 0 {
		return dst
	}
	return appendjson.Int(appendName(dst, first, name), n)
}

func appendStringsField(dst []byte, first *bool, name string, ss []string) []byte {
	if len(ss) == 0 {
		return dst
	}
	return appendjson.Strings(appendName(dst, first, name), ss)
}

func (c *accessClaims) appendJSON(dst []byte) ([]byte, error) {
	dst = append(dst, '{')
	first := true
	dst = appendField(dst, &first, "iss", c.Issuer)
	dst = appendField(dst, &first, "sub", c.Subject)
	dst = appendStringsField(dst, &first, "aud", c.Audience)
	dst = appendIntField(dst, &first, "exp", c.Expiration)
	dst = appendIntField(dst, &first, "iat", c.IssuedAt)
	dst = appendIntField(dst, &first, "nbf", c.NotBefore)
	dst = appendField(dst, &first, "client_id", c.ClientID)
	dst = appendField(dst, &first, "jti", c.JWTID)
	dst = appendField(dst, &first, "scope", c.Scope)
	dst = appendjson.String(appendName(dst, &first, "tid"), c.Tenant)
	return append(dst, '}'), nil
}

func (c *idClaims) appendJSON(dst []byte) ([]byte, error) {
	dst = append(dst, '{')
	first := true
	dst = appendField(dst, &first, "iss", c.Issuer)
	dst = appendStringsField(dst, &first, "aud", c.Audience)
	dst = appendIntField(dst, &first, "exp", c.Expiration)
	dst = appendIntField(dst, &first, "iat", c.IssuedAt)
	dst = appendIntField(dst, &first, "auth_time", c.AuthTime)
	dst = appendField(dst, &first, "nonce", c.Nonce)
	dst = appendStringsField(dst, &first, "amr", c.AMR)
	dst = appendField(dst, &first, "azp", c.AuthorizedParty)
	dst = appendField(dst, &first, "client_id", c.ClientID)
	dst = appendField(dst, &first, "at_hash", c.AccessTokenHash)
	dst = appendField(dst, &first, "c_hash", c.CodeHash)
	// The embedded userClaims' fields follow, as encoding/json flattens them.
	u := &c.userClaims
	dst = appendField(dst, &first, "sub", u.Subject)
	dst = appendField(dst, &first, "name", u.Name)
	dst = appendField(dst, &first, "preferred_username", u.PreferredUsername)
	dst = appendField(dst, &first, "email", u.Email)
	if u.EmailVerified {
		dst = append(appendName(dst, &first, "email_verified"), "true"...)
	}
	dst = appendjson.String(appendName(dst, &first, "tid"), u.Tenant)
	dst = appendjson.String(appendName(dst, &first, "idp"), u.IDP)
	dst = appendField(dst, &first, "sid", u.SessionID)
	return append(dst, '}'), nil
}

// appendTokenResponse appends what json.Encoder writes for r: its JSON
// and a newline. Scope is an oidc.SpaceDelimitedArray, whose MarshalJSON
// is the JSON string of the scopes joined by spaces.
func appendTokenResponse(dst []byte, r *oidc.AccessTokenResponse) []byte {
	dst = append(dst, '{')
	first := true
	dst = appendField(dst, &first, "access_token", r.AccessToken)
	dst = appendField(dst, &first, "token_type", r.TokenType)
	dst = appendField(dst, &first, "refresh_token", r.RefreshToken)
	if r.ExpiresIn != 0 {
		dst = appendjson.Uint(appendName(dst, &first, "expires_in"), r.ExpiresIn)
	}
	dst = appendField(dst, &first, "id_token", r.IDToken)
	dst = appendField(dst, &first, "state", r.State)
	if len(r.Scope) > 0 {
		dst = appendName(dst, &first, "scope")
		dst = append(dst, '"')
		for i, s := range r.Scope {
			if i > 0 {
				dst = append(dst, ' ')
			}
			// No rune spans the space between two scopes.
			dst = appendjson.Escaped(dst, s)
		}
		dst = append(dst, '"')
	}
	return append(dst, '}', '\n')
}

// appendJSON of an auth request, stored at /authorize and again when the
// guest has signed in (completeAuthRequestOp).
func (a *AuthRequest) appendJSON(dst []byte) ([]byte, error) {
	dst = append(dst, `{"id":`...)
	dst = appendjson.String(dst, a.ID)
	dst = append(dst, `,"tid":`...)
	dst = appendjson.String(dst, a.Tenant)
	dst = append(dst, `,"cid":`...)
	dst = appendjson.String(dst, a.ClientID)
	dst = append(dst, `,"ru":`...)
	dst = appendjson.String(dst, a.RedirectURI)
	dst = append(dst, `,"sc":`...)
	dst = appendjson.Strings(dst, a.Scopes)
	first := false // the object has members already: each below starts with a comma
	dst = appendField(dst, &first, "st", a.State)
	dst = appendField(dst, &first, "no", a.Nonce)
	dst = append(dst, `,"rt":`...)
	dst = appendjson.String(dst, string(a.ResponseType))
	dst = appendField(dst, &first, "rm", string(a.ResponseMode))
	if a.CodeChallenge != nil {
		// oidc.CodeChallenge has no tags: its Go field names.
		dst = append(dst, `,"cc":{"Challenge":`...)
		dst = appendjson.String(dst, a.CodeChallenge.Challenge)
		dst = append(dst, `,"Method":`...)
		dst = appendjson.String(dst, string(a.CodeChallenge.Method))
		dst = append(dst, '}')
	}
	dst = appendStringsField(dst, &first, "pr", a.Prompt)
	if a.MaxAge != nil {
		dst = appendjson.Uint(append(dst, `,"ma":`...), uint64(*a.MaxAge))
	}
	dst = appendField(dst, &first, "lh", a.LoginHint)
	dst = appendStringsField(dst, &first, "ul", a.UILocales)
	dst = appendField(dst, &first, "hs", a.HintSubject)
	dst = append(dst, `,"ca":`...)
	dst, err := appendjson.Time(dst, a.CreatedAt)
	if err != nil {
		return dst, err
	}
	if a.Identity != nil {
		dst = append(dst, `,"id_":`...)
		if dst, err = a.Identity.appendJSON(dst); err != nil {
			return dst, err
		}
	}
	dst = appendField(dst, &first, "bnd", a.Binding)
	return append(dst, '}'), nil
}

// appendJSON of the marker a redeemed code leaves (codereuse.go). Until
// is always written: omitempty does not omit a struct.
func (u *usedCode) appendJSON(dst []byte) ([]byte, error) {
	dst = append(dst, `{"c":`...)
	dst = appendjson.String(dst, u.Code)
	dst = append(dst, `,"at":`...)
	dst = appendjson.String(dst, u.AccessID)
	first := false
	dst = appendField(dst, &first, "f", u.Family)
	dst = append(dst, `,"u":`...)
	dst, err := appendjson.Time(dst, u.Until)
	if err != nil {
		return dst, err
	}
	return append(dst, '}'), nil
}
