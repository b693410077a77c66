package op

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"sort"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/guestpass/guestpass/pkg/store"
	"github.com/guestpass/guestpass/provider/pages"
)

// replyTo is where an authorization response goes: a redirect_uri already
// checked against the client, the response mode to use and the state to
// echo. A nil *replyTo means the request could not be tied to a client's
// redirect_uri: the answer is then a page for the person, never a
// redirect (RFC 6749 §4.1.2.1).
type replyTo struct {
	redirectURI string
	mode        oidc.ResponseMode
	state       string
}

func replyFor(a *AuthRequest) *replyTo {
	return &replyTo{redirectURI: a.RedirectURI, mode: a.ResponseMode, state: a.State}
}

// reply sends an authorization response (success or error) in the
// requested mode, always with iss (RFC 9207 §2): in the query, in the
// fragment, or as a field of the form_post page.
func (t *Tenant) reply(w http.ResponseWriter, r *http.Request, to *replyTo, params url.Values) {
	params.Set("iss", t.issuer)
	if to.state != "" {
		params.Set("state", to.state)
	}
	switch to.mode {
	case oidc.ResponseModeFormPost:
		pages.FormPost(w, to.redirectURI, formFields(params))
		return
	case oidc.ResponseModeFragment:
		u, err := url.Parse(to.redirectURI)
		if err != nil {
			t.errorPage(w, r, http.StatusBadRequest, pages.MsgInvalidRequest)
			return
		}
		// RawFragment keeps the encoding as it is (no double escaping).
		u.RawFragment = params.Encode()
		u.Fragment, _ = url.PathUnescape(u.RawFragment)
		t.sendBack(w, r, u.String())
	default:
		u, err := url.Parse(to.redirectURI)
		if err != nil {
			t.errorPage(w, r, http.StatusBadRequest, pages.MsgInvalidRequest)
			return
		}
		q := u.Query()
		for k, vs := range params {
			q[k] = vs
		}
		u.RawQuery = q.Encode()
		t.sendBack(w, r, u.String())
	}
}

// sendBack redirects the browser to the app: 302 from a GET (as the
// library did), 303 from a sign-in form's POST, which RFC 9700 §4.12 asks
// for so that no browser re-posts the form (with the passcode) to the app.
func (t *Tenant) sendBack(w http.ResponseWriter, r *http.Request, u string) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	status := http.StatusFound
	if r.Method == http.MethodPost {
		status = http.StatusSeeOther
	}
	http.Redirect(w, r, u, status)
}

func formFields(params url.Values) []pages.Field {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var fs []pages.Field
	for _, k := range keys {
		for _, v := range params[k] {
			fs = append(fs, pages.Field{Name: k, Value: v})
		}
	}
	return fs
}

// authError answers a failed authorization request. With a checked
// redirect_uri, and unless the error says not to redirect, the app gets
// the OAuth error (with iss) in the request's response mode; otherwise
// the person gets the branded error page, without internal detail (which
// goes to the log, bounded: the error's type and description only).
func (t *Tenant) authError(w http.ResponseWriter, r *http.Request, to *replyTo, err error) {
	if store.Down(err) {
		// An outage is the 503 page with Retry-After, shown to the
		// person, wherever it happens (authorize, a hint that could not be
		// checked, a code that could not be saved): sent back to the app
		// it would be a server_error (or login_required) that the app
		// cannot tell from a real refusal and would not retry.
		t.storeFailed(w, r, err)
		return
	}
	e := oidc.DefaultToServerError(err, "")
	t.logAuthError(r.Context(), e, err)
	if to == nil || to.redirectURI == "" || e.IsRedirectDisabled() {
		status, key := errorPageFor(e)
		t.errorPage(w, r, status, key)
		return
	}
	params := url.Values{"error": {string(e.ErrorType)}}
	if e.ErrorType == oidc.ServerError {
		// A server error's description may come from a Go error: the app
		// is told only that it happened.
		params.Set("error_description", "internal error")
	} else if e.Description != "" {
		params.Set("error_description", e.Description)
	}
	t.reply(w, r, to, params)
}

// errorPageFor picks the status and message of the page shown instead of
// an error redirect.
func errorPageFor(e *oidc.Error) (int, pages.MessageKey) {
	if e.ErrorType == oidc.ServerError {
		return http.StatusInternalServerError, pages.MsgServerError
	}
	return http.StatusBadRequest, pages.MsgInvalidRequest
}

func (t *Tenant) logAuthError(ctx context.Context, e *oidc.Error, err error) {
	level := slog.LevelInfo
	attrs := []any{slog.String("error", string(e.ErrorType)), slog.String("description", bounded(e.Description, 200))}
	if e.ErrorType == oidc.ServerError {
		level = slog.LevelError
		attrs = append(attrs, slog.String("cause", bounded(err.Error(), 500)))
	}
	t.log.Log(ctx, level, "authorization request refused", attrs...)
}

// bounded cuts s to at most n bytes for a log line.
func bounded(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
