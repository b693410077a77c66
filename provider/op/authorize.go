package op

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/guestpass/guestpass/provider/pages"
)

// authorize serves /authorize. It is the library's op.Authorize built from
// the library's own exported checks, with what the library leaves out:
// every answer to the app carries iss in the requested response mode;
// unknown response_mode values, request objects and request_uri are
// refused; only ID tokens are accepted as id_token_hint; and an error that
// cannot go back to the app is the branded error page, not plain text.
func (t *Tenant) authorize(w http.ResponseWriter, r *http.Request) {
	ctx := op.ContextWithIssuer(r.Context(), t.issuer)
	req, err := op.ParseAuthorizeRequest(r, t.provider.Decoder())
	if err != nil {
		t.authError(w, r, nil, err)
		return
	}
	c, ok := t.storage.clients[req.ClientID]
	if !ok {
		t.authError(w, r, nil, oidc.ErrInvalidRequestRedirectURI().WithDescription("unknown client"))
		return
	}
	// Checked as for the code flow, the only one served: another
	// response_type is then refused back at the app (unsupported_response_type,
	// RFC 6749 §4.1.2.1) rather than by a page.
	if err := op.ValidateAuthReqRedirectURI(c, req.RedirectURI, oidc.ResponseTypeCode); err != nil {
		t.authError(w, r, nil, err)
		return
	}
	// From here on the redirect_uri is the client's own: errors go back
	// to it. An unknown response_mode cannot choose how, so its refusal
	// goes in the default mode of the code flow, the query.
	to := &replyTo{redirectURI: req.RedirectURI, mode: oidc.ResponseModeQuery, state: req.State}
	if !knownResponseMode(req.ResponseMode) {
		t.authError(w, r, to, oidc.ErrInvalidRequest().WithDescription("unsupported response_mode"))
		return
	}
	if req.ResponseMode != "" {
		to.mode = req.ResponseMode
	}
	sub, err := t.checkAuthRequest(ctx, r, req, c)
	if err != nil {
		t.authError(w, r, to, err)
		return
	}
	a, err := t.storage.createAuthRequest(ctx, req, sub, t.clientIP.Key(r))
	if errors.Is(err, errAuthorizeLimited) {
		t.tooManyRequests(w, r)
		return
	}
	if err != nil {
		t.authError(w, r, to, oidc.DefaultToServerError(err, "unable to save auth request"))
		return
	}
	http.Redirect(w, r, c.LoginURL(a.GetID()), http.StatusFound)
}

// tooManyRequests answers a client over the /authorize limit: 429 with
// Retry-After, the page for people and RFC 6749 style JSON for programs,
// never a redirect (a script looping on it would only loop faster).
func (t *Tenant) tooManyRequests(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Retry-After", strconv.Itoa(int(authorizeWindow.Seconds())))
	if strings.Contains(r.Header.Get("Accept"), "text/html") {
		t.errorPage(w, r, http.StatusTooManyRequests, pages.MsgTooManySignIns)
		return
	}
	(&oauthError{status: http.StatusTooManyRequests, code: "temporarily_unavailable",
		desc: "too many authorization requests from this client; try again in a minute"}).write(w, t.issuer)
}

// checkAuthRequest applies the library's checks and ours, in the order of
// op.ValidateAuthRequestClient, and returns the subject of a valid
// id_token_hint ("" without one).
func (t *Tenant) checkAuthRequest(ctx context.Context, r *http.Request, req *oidc.AuthRequest, c *client) (string, error) {
	// Request objects are not supported (discovery says so): refuse them
	// rather than ignore parameters the app meant to be authoritative.
	if r.Form.Get("request_uri") != "" {
		return "", &oidc.Error{ErrorType: "request_uri_not_supported", Description: "request_uri is not supported"}
	}
	if req.RequestParam != "" {
		return "", oidc.ErrRequestNotSupported().WithDescription("request objects are not supported")
	}
	var err error
	if req.MaxAge, err = op.ValidateAuthReqPrompt(req.Prompt, req.MaxAge); err != nil {
		return "", err
	}
	if req.Scopes, err = t.authorizeScopes(req.Scopes); err != nil {
		return "", err
	}
	if req.ResponseType == "" {
		return "", oidc.ErrInvalidRequest().WithDescription("response_type is missing")
	}
	if !slices.Contains(c.ResponseTypes(), req.ResponseType) {
		// RFC 6749 §4.1.2.1: the code flow only, whatever the client.
		return "", &oidc.Error{ErrorType: "unsupported_response_type", Description: "only response_type=code is supported"}
	}
	if err := op.ValidateAuthReqCodeChallengeMethod(req.CodeChallenge, req.CodeChallengeMethod); err != nil {
		return "", err
	}
	if req.IDTokenHint == "" {
		return "", nil
	}
	// The library's verifier keeps only the text of a key set's error:
	// load the keys first so that an outage is told from a bad hint.
	if err := t.keysLoaded(ctx); err != nil {
		return "", err
	}
	claims, err := t.verifyIDTokenHint(ctx, req.IDTokenHint)
	if err != nil {
		return "", oidc.ErrLoginRequired().WithDescription("The id_token_hint is invalid.").WithParent(err)
	}
	return claims.GetSubject(), nil
}

func knownResponseMode(m oidc.ResponseMode) bool {
	return m == "" || slices.Contains(responseModes, m)
}
