package op

import (
	"errors"
	"net/http"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/guestpass/guestpass/pkg/jsonhttp"
	"github.com/guestpass/guestpass/pkg/store"
)

// oauthError is an error answer of the token, revocation, introspection
// and userinfo endpoints: RFC 6749 §5.2 JSON, with the status and (for
// 401) the WWW-Authenticate challenge that goes with it. The description
// is ours, never a Go error string: those name internals.
type oauthError struct {
	status int
	code   string
	desc   string
	// bearer: the challenge is RFC 6750's (userinfo), else Basic
	// (client authentication, RFC 6749 §5.2).
	bearer bool
	// bare: a Bearer challenge without error information, for a request
	// that carried no token at all (RFC 6750 §3.1).
	bare bool
	// allow is the Allow header of a 405 (RFC 9110 §15.5.6).
	allow string
}

func (e *oauthError) Error() string { return e.code + ": " + e.desc }

func invalidRequest(desc string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: string(oidc.InvalidRequest), desc: desc}
}

func invalidClient(desc string) *oauthError {
	return &oauthError{status: http.StatusUnauthorized, code: string(oidc.InvalidClient), desc: desc}
}

func invalidGrant(desc string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: string(oidc.InvalidGrant), desc: desc}
}

func serverError() *oauthError {
	return &oauthError{status: http.StatusInternalServerError, code: string(oidc.ServerError), desc: "internal error"}
}

// fail answers err. A server error is logged (the client learns nothing
// of it): the error texts are ours and the store's, never a token's.
func (t *Tenant) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := asOAuthError(err)
	if e.status >= http.StatusInternalServerError {
		t.log.ErrorContext(r.Context(), "oidc endpoint", "tenant", t.id, "path", r.URL.Path, "error", err.Error())
	}
	e.write(w, t.issuer)
}

// asOAuthError turns what storage and the library return into an answer:
// a store outage is a 503 (store.Down), *oidc.Error keeps its type and
// description (never its parent), anything else is a server error.
func asOAuthError(err error) *oauthError {
	var oe *oauthError
	if errors.As(err, &oe) {
		return oe
	}
	if store.Down(err) {
		return unavailable()
	}
	var le *oidc.Error
	if !errors.As(err, &le) {
		return serverError()
	}
	e := &oauthError{status: http.StatusBadRequest, code: string(le.ErrorType), desc: le.Description}
	switch le.ErrorType {
	case oidc.InvalidClient:
		e.status = http.StatusUnauthorized
	case oidc.ServerError:
		return serverError()
	}
	return e
}

// write sends the error. realm is the tenant's issuer.
func (e *oauthError) write(w http.ResponseWriter, realm string) {
	h := w.Header()
	if e.status == http.StatusUnauthorized || e.bearer {
		h.Set("WWW-Authenticate", e.challenge(realm))
	}
	if e.allow != "" {
		h.Set("Allow", e.allow)
	}
	if e.status == http.StatusServiceUnavailable {
		h.Set("Retry-After", retryAfter)
	}
	body := map[string]string{"error": e.code}
	if e.desc != "" {
		body["error_description"] = e.desc
	}
	jsonhttp.Write(w, e.status, body)
}

// challenge is the WWW-Authenticate value. RFC 6750 §3.1: a request
// without any token gets the bare challenge, without an error code.
func (e *oauthError) challenge(realm string) string {
	if !e.bearer {
		return `Basic realm="` + quote(realm) + `"`
	}
	c := `Bearer realm="` + quote(realm) + `"`
	if !e.bare {
		c += `, error="` + e.code + `"`
		if e.desc != "" {
			c += `, error_description="` + quote(e.desc) + `"`
		}
	}
	return c
}

// quote makes s safe inside a quoted-string (our own texts only, but an
// issuer comes from the config).
func quote(s string) string { return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) }
