package op

import (
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// AuthRequest is one authorization request of one tenant, kept in the store
// from /authorize until its code is redeemed (or it expires).
type AuthRequest struct {
	ID            string              `json:"id"`
	Tenant        string              `json:"tid"`
	ClientID      string              `json:"cid"`
	RedirectURI   string              `json:"ru"`
	Scopes        []string            `json:"sc"`
	State         string              `json:"st,omitempty"`
	Nonce         string              `json:"no,omitempty"`
	ResponseType  oidc.ResponseType   `json:"rt"`
	ResponseMode  oidc.ResponseMode   `json:"rm,omitempty"`
	CodeChallenge *oidc.CodeChallenge `json:"cc,omitempty"`
	Prompt        []string            `json:"pr,omitempty"`
	MaxAge        *uint               `json:"ma,omitempty"`
	LoginHint     string              `json:"lh,omitempty"`
	UILocales     []string            `json:"ul,omitempty"`
	// HintSubject is the subject of a valid id_token_hint: a session of
	// another subject must not answer this request (a new sign-in, or
	// login_required with prompt=none).
	HintSubject string    `json:"hs,omitempty"`
	CreatedAt   time.Time `json:"ca"`

	// Set when the guest has signed in.
	Identity *Identity `json:"id_,omitempty"`
	// Binding is a hash of the flow cookie of the browser that signed in:
	// only that browser may collect the code at /authorize/callback.
	Binding string `json:"bnd,omitempty"`

	// redeemedCode is the hash of the code the token endpoint took ("" until
	// then); the request is deleted, and the code's marker written, when
	// the tokens are saved (codereuse.go).
	redeemedCode string
}

// Identity is who signed in, as the login pages established it.
type Identity struct {
	Subject string `json:"sub"`
	Email   string `json:"email"`
	// EmailVerified is what the connector established (email_verified).
	EmailVerified bool      `json:"ev,omitempty"`
	Name          string    `json:"name,omitempty"`
	Source        string    `json:"idp"`
	AMR           []string  `json:"amr,omitempty"`
	AuthTime      time.Time `json:"at"`
	SessionID     string    `json:"sid"`
}

// The op.AuthRequest interface.

func (a *AuthRequest) GetID() string                         { return a.ID }
func (a *AuthRequest) GetACR() string                        { return "" }
func (a *AuthRequest) GetAudience() []string                 { return []string{a.ClientID} }
func (a *AuthRequest) GetClientID() string                   { return a.ClientID }
func (a *AuthRequest) GetCodeChallenge() *oidc.CodeChallenge { return a.CodeChallenge }
func (a *AuthRequest) GetNonce() string                      { return a.Nonce }
func (a *AuthRequest) GetRedirectURI() string                { return a.RedirectURI }
func (a *AuthRequest) GetResponseType() oidc.ResponseType    { return a.ResponseType }
func (a *AuthRequest) GetResponseMode() oidc.ResponseMode    { return a.ResponseMode }
func (a *AuthRequest) GetScopes() []string                   { return a.Scopes }
func (a *AuthRequest) GetState() string                      { return a.State }
func (a *AuthRequest) Done() bool                            { return a.Identity != nil }
func (a *AuthRequest) GetSubject() string {
	if a.Identity == nil {
		return ""
	}
	return a.Identity.Subject
}
func (a *AuthRequest) GetAMR() []string {
	if a.Identity == nil {
		return nil
	}
	return a.Identity.AMR
}
func (a *AuthRequest) GetAuthTime() time.Time {
	if a.Identity == nil {
		return time.Time{}
	}
	return a.Identity.AuthTime
}

// HasPrompt reports whether the request carried prompt=p.
func (a *AuthRequest) HasPrompt(p string) bool {
	for _, x := range a.Prompt {
		if x == p {
			return true
		}
	}
	return false
}

// refreshToken is the stored form of a refresh token (keyed by its hash).
// Tokens of one sign-in form a family: rotation marks the presented token
// used and issues the next; presenting a used token again revokes the family.
type refreshToken struct {
	Tenant   string    `json:"tid"`
	Family   string    `json:"fam"`
	ClientID string    `json:"cid"`
	Scopes   []string  `json:"sc"`
	Identity Identity  `json:"id_"`
	Used     bool      `json:"used,omitempty"`
	Expires  time.Time `json:"exp"`

	// raw is the record as read from the store: what the rotation's swap
	// must answer for the rotation to be this request's; key is where it
	// was read (the token's hash is not computed twice).
	raw []byte
	key string
	// narrowed is the scope a refresh request asked for (a subset of
	// Scopes): it shapes this response's tokens, while the rotated refresh
	// token keeps the whole original grant (RFC 6749 §6).
	narrowed []string
}

func (r *refreshToken) GetAMR() []string                 { return r.Identity.AMR }
func (r *refreshToken) GetAudience() []string            { return []string{r.ClientID} }
func (r *refreshToken) GetAuthTime() time.Time           { return r.Identity.AuthTime }
func (r *refreshToken) GetClientID() string              { return r.ClientID }
func (r *refreshToken) GetSubject() string               { return r.Identity.Subject }
func (r *refreshToken) SetCurrentScopes(scopes []string) { r.narrowed = scopes }

// GetScopes is the scope of the tokens this request makes: the narrowed
// one when the refresh request asked for less.
func (r *refreshToken) GetScopes() []string {
	if r.narrowed != nil {
		return r.narrowed
	}
	return r.Scopes
}

// accessToken is the stored record of an access token (a JWT whose jti is
// the record's id): it makes revocation and introspection authoritative.
type accessToken struct {
	Tenant   string    `json:"tid"`
	ClientID string    `json:"cid"`
	Subject  string    `json:"sub"`
	Scopes   []string  `json:"sc"`
	Identity *Identity `json:"id_,omitempty"` // nil for client credentials
	Expires  time.Time `json:"exp"`
	// Family is the refresh token family the token was issued with (""
	// for none): revoking the family also ends its access tokens.
	Family string `json:"fam,omitempty"`
}

// clientCredentialsRequest is the op.TokenRequest of a client_credentials grant.
type clientCredentialsRequest struct {
	clientID string
	scopes   []string
}

func (c *clientCredentialsRequest) GetSubject() string    { return c.clientID }
func (c *clientCredentialsRequest) GetAudience() []string { return []string{c.clientID} }
func (c *clientCredentialsRequest) GetScopes() []string   { return c.scopes }
