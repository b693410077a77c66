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

	"github.com/guestpass/guestpass/pkg/store"
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
	if t.starter != nil && r.Method == http.MethodGet {
		t.accept(w, r, req, sub, to)
		return
	}
	a, err := t.storage.createAuthRequest(ctx, req, sub, t.clientIP.Key(r))
	if err != nil {
		t.saveFailed(w, r, to, err)
		return
	}
	http.Redirect(w, r, c.LoginURL(a.GetID()), http.StatusFound)
}

// Starter shows the first step of a sign-in (the email page, single
// sign-on, a hinted address's next page) in the answer to /authorize
// itself: the login pages. Without a redirect to a page of their own a
// sign-in costs one browser request and one store round trip less, since
// the pages' first reads (the session, the switches) travel in the batch
// that stores the request. An OP without one (this package's tests)
// redirects to the client's LoginURL instead, which serves the same step.
// So does a POST to /authorize: an app's cross-site form carries no
// SameSite=Lax cookie, so its answer would miss the browser's session
// (no single sign-on, login_required for prompt=none) and replace its
// flow cookie; the GET that follows the redirect carries them.
type Starter interface {
	Start(w http.ResponseWriter, r *http.Request, a *Accepted)
}

// SetStarter makes s show the first step of each sign-in (Starter). It is
// called once, while the server is built: the pages are built with the
// OP, so the OP cannot take them in New.
func (t *Tenant) SetStarter(s Starter) { t.starter = s }

// Accepted is an authorization request /authorize accepted and has not
// stored yet. The Starter runs Ops in its first batch, then Saved.
type Accepted struct {
	Req *AuthRequest
	// Ops store the request (and count it against the client's
	// per-IP limit). They come first in the batch: its reads may then
	// be answered from what they wrote.
	Ops  []*store.Op
	t    *Tenant
	save *pendingSave
	to   *replyTo
}

// accept hands a checked request to the Starter with the ops that store
// it, kept authRequestIdleTTL like any new request: the email form (or a
// login_hint, which answers it at once, or the start page opened by its
// URL, where a POST to /authorize is redirected) extends it in its own
// batch (TouchAuthRequestOp), so a request nobody acts on is gone as soon
// as one nobody followed used to be.
func (t *Tenant) accept(w http.ResponseWriter, r *http.Request, req *oidc.AuthRequest, sub string, to *replyTo) {
	a, err := t.storage.newAuthRequest(req, sub)
	var save *pendingSave
	if err == nil {
		save, err = t.storage.prepareSave(a, t.clientIP.Key(r))
	}
	if err != nil {
		t.saveFailed(w, r, to, err)
		return
	}
	t.starter.Start(w, r, &Accepted{Req: a, Ops: save.ops, t: t, save: save, to: to})
}

// Saved reports whether the request was stored by the Starter's batch
// (batchErr: what the batch returned). When it was not it has answered:
// 429 over the client's limit (the request withdrawn), the outage page,
// or the error sent back to the app.
func (a *Accepted) Saved(w http.ResponseWriter, r *http.Request, batchErr error) bool {
	if err := a.save.settle(r.Context(), batchErr); err != nil {
		a.t.saveFailed(w, r, a.to, err)
		return false
	}
	return true
}

// saveFailed answers a request that could not be stored.
func (t *Tenant) saveFailed(w http.ResponseWriter, r *http.Request, to *replyTo, err error) {
	if errors.Is(err, errAuthorizeLimited) {
		t.tooManyRequests(w, r)
		return
	}
	t.authError(w, r, to, oidc.DefaultToServerError(err, "unable to save auth request"))
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
