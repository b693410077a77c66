package op

import (
	"errors"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/guestpass/guestpass/pkg/jsonhttp"
)

// bearerError is an RFC 6750 §3 answer: the status, and a Bearer challenge
// that names the error.
func bearerError(status int, code, desc string) *oauthError {
	return &oauthError{status: status, code: code, desc: desc, bearer: true}
}

// bearerToken reads the access token from the Authorization header or a
// POST form body (RFC 6750 §2.1, §2.2). A token in the URL query (§2.3)
// is refused: it lands in logs and histories. ok is false when the
// request carries no token at all; an Authorization header of another
// scheme (Basic, say) carries none either: RFC 6750 §3.1 answers such a
// request as one without authentication, 401 with the bare challenge.
func bearerToken(r *http.Request) (string, bool, *oauthError) {
	if r.URL.Query().Has("access_token") {
		return "", false, bearerError(http.StatusBadRequest, string(oidc.InvalidRequest),
			"access_token must not be sent in the URL query")
	}
	var fromBody string
	if r.Method == http.MethodPost {
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" {
			if err := r.ParseForm(); err != nil {
				return "", false, bearerError(http.StatusBadRequest, string(oidc.InvalidRequest), "malformed form body")
			}
			fromBody = r.PostForm.Get("access_token")
		}
	}
	scheme, fromHeader, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	bearer := strings.EqualFold(scheme, "Bearer")
	fromHeader = strings.TrimSpace(fromHeader)
	switch {
	case bearer && fromBody != "":
		return "", false, bearerError(http.StatusBadRequest, string(oidc.InvalidRequest), "use one way to send the token")
	case fromBody != "":
		return fromBody, true, nil
	case !bearer:
		return "", false, nil
	case fromHeader == "":
		return "", false, bearerError(http.StatusBadRequest, string(oidc.InvalidRequest), "the Bearer token is empty")
	}
	return fromHeader, true, nil
}

// serveUserinfo answers /userinfo (OIDC Core §5.3) for live tokens of a
// signed-in guest; a token of a revoked refresh family is not live.
func (t *Tenant) serveUserinfo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		e := invalidRequest("use GET or POST")
		e.status, e.allow = http.StatusMethodNotAllowed, "GET, POST"
		e.write(w, t.issuer)
		return
	}
	tok, ok, oe := bearerToken(r)
	if oe != nil {
		oe.write(w, t.issuer)
		return
	}
	if !ok {
		// RFC 6750 §3.1: no token, no error code, just the challenge.
		e := bearerError(http.StatusUnauthorized, "invalid_token", "an access token is required")
		e.bare = true
		e.write(w, t.issuer)
		return
	}
	at, _, err := t.liveAccessToken(op.ContextWithIssuer(r.Context(), t.issuer), tok)
	var nf errNotFound
	switch {
	case errors.As(err, &nf) || err == nil && at.Identity == nil:
		// A client-credentials token names no guest: no userinfo either.
		bearerError(http.StatusUnauthorized, "invalid_token", "the access token is invalid, expired or revoked").write(w, t.issuer)
		return
	case err != nil:
		t.fail(w, r, err)
		return
	}
	if !slices.Contains(at.Scopes, oidc.ScopeOpenID) {
		// Userinfo is an OpenID Connect resource (Core §5.3): a token of
		// a grant without openid (a narrowed refresh) may not read it.
		bearerError(http.StatusForbidden, "insufficient_scope", "the access token lacks the openid scope").write(w, t.issuer)
		return
	}
	// The ID token's user claims (storage.go), as a plain struct: the
	// library's UserInfo marshals through a map.
	jsonhttp.Write(w, http.StatusOK, t.storage.userClaims(at.Identity, at.Scopes))
}
