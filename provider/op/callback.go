package op

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/guestpass/guestpass/provider/pages"
)

// callback serves /authorize/callback, where the login pages send a
// browser back to a request it completed before (a page reloaded after
// sign-in; a sign-in's own last step answers the app itself, Complete):
// it mints a new code and answers the app in the request's response mode,
// with iss. Only the browser that
// signed in may collect the code: a completed auth request is bound to
// that browser's flow cookie, so a request id lured out of a guest is
// worthless elsewhere. Costs two round trips: the request's read and the
// code's save.
func (t *Tenant) callback(w http.ResponseWriter, r *http.Request) {
	ctx := op.ContextWithIssuer(r.Context(), t.issuer)
	a, err := t.storage.authRequest(ctx, r.URL.Query().Get("id"))
	var nf errNotFound
	if errors.As(err, &nf) {
		t.errorPage(w, r, http.StatusBadRequest, pages.MsgExpiredRequest)
		return
	}
	if err != nil {
		t.authError(w, r, nil, err)
		return
	}
	if !a.Done() {
		t.authError(w, r, replyFor(a), oidc.ErrInteractionRequired().WithDescription("the user is not signed in"))
		return
	}
	if !t.sameBrowser(r, a) {
		t.errorPage(w, r, http.StatusForbidden, pages.MsgExpiredRequest)
		return
	}
	code, err := newCode(a.ID)
	if err == nil {
		err = t.storage.saveAuthCode(ctx, a, code)
	}
	if err != nil {
		t.authError(w, r, replyFor(a), err)
		return
	}
	t.reply(w, r, replyFor(a), url.Values{"code": {code}})
}

// sameBrowser reports whether r comes from the browser (flow cookie) that
// completed a.
func (t *Tenant) sameBrowser(r *http.Request, a *AuthRequest) bool {
	if t.flows == nil {
		return false
	}
	flow, err := t.flows.Get(r, t.id)
	return err == nil && flow != "" && subtle.ConstantTimeCompare([]byte(flowBinding(flow)), []byte(a.Binding)) == 1
}
