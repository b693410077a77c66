package op

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/guestpass/guestpass/provider/pages"
)

// Every /authorize hit is stored (up to 15 minutes untouched, authlimit.go), before anyone has signed in
// (Dex #1292): what one request may cost is bounded here, before the
// library parses or stores anything (PRODUCT.md B6, B10; issue 6 item 8).
const (
	// MaxAuthorizeBody caps the body of POST /authorize, and the query of
	// GET /authorize. Other endpoints keep the server's 1 MiB cap.
	MaxAuthorizeBody = 64 << 10
	// maxStoredAuthRequest bounds a stored auth request as a whole, a
	// backstop for the per-parameter bounds below.
	maxStoredAuthRequest = 12 << 10
	maxUILocales         = 8
)

// authorizeParam is the bound of one authorization request parameter.
type authorizeParam struct {
	name   string
	maxLen int
}

// authorizeParams are the parameters guestpass reads, with their bounds
// (read-only). Other parameters are ignored (RFC 6749 §3.1), within the
// body cap; request and request_uri are refused elsewhere.
var authorizeParams = [...]authorizeParam{
	{"client_id", 256},
	{"redirect_uri", 2048},
	{"response_type", 64},
	{"response_mode", 64},
	{"scope", maxScopeLen},
	{"state", maxStateLen},
	{"nonce", maxNonceLen},
	{"prompt", 64},
	{"display", 16},
	{"max_age", 10},
	{"ui_locales", 256},
	{"id_token_hint", 16 << 10},
	{"login_hint", maxLoginHintLen},
	{"acr_values", 1024},
	{"claims", 4096},
	{"code_challenge", maxChallengeLen},
	{"code_challenge_method", 16},
}

// checkAuthorize refuses an authorization request that is too big, repeats
// a parameter, has an oversized parameter or a value outside an enumerated
// set. The answer is an OAuth error at the redirect URI when client and
// redirect URI are valid, else an error page. It reports whether the
// request may go on to the library.
func (t *Tenant) checkAuthorize(w http.ResponseWriter, r *http.Request) bool {
	if len(r.URL.RawQuery) > MaxAuthorizeBody {
		t.errorPage(w, r, http.StatusRequestURITooLong, pages.MsgInvalidRequest)
		return false
	}
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, MaxAuthorizeBody)
	}
	// Parsed here, the form is what the library decodes next (ParseForm
	// does not parse twice).
	if err := r.ParseForm(); err != nil {
		status := http.StatusBadRequest
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			status = http.StatusRequestEntityTooLarge
		}
		t.errorPage(w, r, status, pages.MsgInvalidRequest)
		return false
	}
	if err := checkAuthorizeParams(r.Form); err != nil {
		t.refuseAuthorize(w, r, err)
		return false
	}
	return true
}

// checkAuthorizeParams applies the bounds and the enumerations. Its
// descriptions name the parameter, never echo the value.
func checkAuthorizeParams(form url.Values) *oidc.Error {
	for _, p := range authorizeParams {
		vals := form[p.name]
		switch {
		case len(vals) > 1:
			// RFC 6749 §3.1: parameters MUST NOT be included more than once.
			return oidc.ErrInvalidRequest().WithDescription("%s is repeated", p.name)
		case len(vals) == 1 && len(vals[0]) > p.maxLen:
			return oidc.ErrInvalidRequest().WithDescription("%s is too long (at most %d bytes)", p.name, p.maxLen)
		}
	}
	if n := len(strings.Fields(form.Get("scope"))); n > maxScopes {
		return oidc.ErrInvalidRequest().WithDescription("too many scopes (at most %d)", maxScopes)
	}
	if n := len(strings.Fields(form.Get("ui_locales"))); n > maxUILocales {
		return oidc.ErrInvalidRequest().WithDescription("too many ui_locales (at most %d)", maxUILocales)
	}
	for _, p := range strings.Fields(form.Get("prompt")) {
		if !slices.Contains([]string{oidc.PromptNone, oidc.PromptLogin, oidc.PromptConsent, oidc.PromptSelectAccount}, p) {
			return oidc.ErrInvalidRequest().WithDescription("prompt has an unsupported value; use none, login, consent or select_account")
		}
	}
	if d := form.Get("display"); d != "" && !slices.Contains([]string{"page", "popup", "touch", "wap"}, d) {
		return oidc.ErrInvalidRequest().WithDescription("display has an unsupported value; use page, popup, touch or wap")
	}
	if m := form.Get("max_age"); m != "" && strings.Trim(m, "0123456789") != "" {
		return oidc.ErrInvalidRequest().WithDescription("max_age must be a number of seconds")
	}
	return checkPKCEParams(form.Get("code_challenge"), form.Get("code_challenge_method"))
}

// checkPKCEParams: only S256 (RFC 7636 §4.4.1 answers an unsupported
// method with invalid_request), and a challenge of 43 to 128 unreserved
// characters (§4.2).
func checkPKCEParams(challenge, method string) *oidc.Error {
	if method != "" && method != string(oidc.CodeChallengeMethodS256) {
		return oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256")
	}
	if challenge == "" {
		return nil
	}
	if len(challenge) < 43 || strings.Trim(challenge, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~") != "" {
		return oidc.ErrInvalidRequest().WithDescription("code_challenge must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~")
	}
	return nil
}

// refuseAuthorize answers a refused request: to the app when its client and
// (exact) redirect URI are valid, as the library answers its own errors;
// else with an error page, since an unchecked redirect URI is an open
// redirect.
func (t *Tenant) refuseAuthorize(w http.ResponseWriter, r *http.Request, e *oidc.Error) {
	form := r.Form
	c, ok := t.storage.clients[form.Get("client_id")]
	redirect := form.Get("redirect_uri")
	if !ok || len(form["client_id"]) != 1 || len(form["redirect_uri"]) != 1 || !slices.Contains(c.RedirectURIs(), redirect) {
		t.errorPage(w, r, http.StatusBadRequest, pages.MsgInvalidRequest)
		return
	}
	a := &AuthRequest{ClientID: c.GetID(), RedirectURI: redirect, ResponseType: oidc.ResponseTypeCode}
	if st := form["state"]; len(st) == 1 && len(st[0]) <= maxStateLen {
		a.State = st[0] // echoed only when it is itself acceptable
	}
	if m := oidc.ResponseMode(form.Get("response_mode")); knownResponseMode(m) {
		a.ResponseMode = m
	}
	t.Fail(w, r, a, e)
}
