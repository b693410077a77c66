package admin

import (
	"errors"
	"github.com/guestpass/guestpass/pkg/requestid"
	"net/http"
	"strings"
)

// maxTokenBytes bounds the Authorization header's token before any
// parsing: our access tokens are a few hundred bytes.
const maxTokenBytes = 8 << 10

// authorise checks the bearer token (RFC 6750): none or a malformed
// header → 401 without an error code (§3.1); a token that is not a live
// access token of this tenant → 401 invalid_token; a live token without
// admin rights → 403 insufficient_scope. Every refusal is JSON.
func (h *Handler) authorise(w http.ResponseWriter, r *http.Request) (call, bool) {
	if r.URL.Query().Has("access_token") {
		h.challenge(w, http.StatusBadRequest, "invalid_request", "send the token in the Authorization header, never in the URL")
		return call{}, false
	}
	raw, ok := bearer(r)
	if !ok {
		h.challenge(w, http.StatusUnauthorized, "", "an Authorization: Bearer access token is required")
		return call{}, false
	}
	client, _, err := h.o.Verifier.VerifyAdminToken(r.Context(), raw)
	switch {
	case err == nil:
		return call{client: client, requestID: requestid.From(r.Context())}, true
	case errors.Is(err, h.o.ErrTokenInvalid):
		h.challenge(w, http.StatusUnauthorized, "invalid_token", "the access token is invalid, expired or revoked, or belongs to another tenant")
	case errors.Is(err, h.o.ErrNotAdmin):
		h.challenge(w, http.StatusForbidden, "insufficient_scope", "the access token was not issued to an admin client through client_credentials")
	default:
		h.storeFailed(w, r, "verify token", err)
	}
	return call{}, false
}

// bearer extracts the token of "Authorization: Bearer <token>".
func bearer(r *http.Request) (string, bool) {
	v := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	if tok == "" || len(tok) > maxTokenBytes {
		return "", false
	}
	return tok, true
}

// challenge answers with WWW-Authenticate (RFC 6750 §3) and the JSON
// error body; code "" is the bare challenge of a request without a token.
func (h *Handler) challenge(w http.ResponseWriter, status int, code, desc string) {
	c := `Bearer realm="` + h.o.Issuer + `"`
	if code != "" {
		c += `, error="` + code + `", error_description="` + desc + `"`
	}
	w.Header().Set("WWW-Authenticate", c)
	if code == "" {
		code = "unauthorized"
	}
	writeError(w, status, code, desc)
}
