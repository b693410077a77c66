package op

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/guestpass/guestpass/pkg/session"
	"github.com/guestpass/guestpass/provider/pages"
)

// endSession serves /end_session (RP-initiated logout). Any site can send
// a browser here, so the guest's session ends at once only when the app
// proves it knows that session: an id_token_hint, an ID token (not an
// access token) of the current session. Otherwise the guest is asked to
// confirm, by a POST carrying a CSRF token bound to the session. Without
// a session there is nothing to end, and the library answers (it checks
// post_logout_redirect_uri exactly).
func (t *Tenant) endSession(w http.ResponseWriter, r *http.Request) {
	ctx := op.ContextWithIssuer(r.Context(), t.issuer)
	if err := r.ParseForm(); err != nil {
		t.errorPage(w, r, http.StatusBadRequest, "invalid_request")
		return
	}
	var hint *oidc.IDTokenClaims
	if raw := r.Form.Get("id_token_hint"); raw != "" {
		c, err := t.verifyIDTokenHint(ctx, raw)
		if err != nil {
			t.errorPage(w, r, http.StatusBadRequest, "invalid_request")
			return
		}
		hint = c
	}
	sess := t.currentSession(r)
	switch {
	case sess == nil:
	case r.Method == http.MethodPost && r.PostForm.Has("csrf"):
		if !t.logoutCSRFValid(sess, r.PostForm.Get("csrf")) {
			t.errorPage(w, r, http.StatusForbidden, "csrf")
			return
		}
	case hint != nil && hintOfSession(hint, sess):
	default:
		t.confirmLogout(w, r, sess, hint)
		return
	}
	t.logout(w, r.WithContext(ctx), sess)
}

// logout checks the request as the library does (id_token_hint, exact
// post_logout_redirect_uri) and only then ends sess (nil: none), clears
// the cookie and redirects: a refused logout changes nothing. The session
// is handed over here rather than through the request's context, so the
// storage adapter keeps no request-scoped state.
func (t *Tenant) logout(w http.ResponseWriter, r *http.Request, sess *session.Session) {
	req, err := op.ParseEndSessionRequest(r, t.provider.Decoder())
	if err != nil {
		op.RequestError(w, r, err, nil)
		return
	}
	ended, err := op.ValidateEndSessionRequest(r.Context(), req, t.provider)
	if err != nil {
		op.RequestError(w, r, err, nil)
		return
	}
	if sess != nil {
		if err := t.sessions.DeleteByID(r.Context(), t.id, sess.ID); err != nil {
			t.storeFailed(w, r, err)
			return
		}
		t.sessions.ClearCookie(w, t.id)
	}
	http.Redirect(w, r, t.storage.logoutRedirect(ended), http.StatusFound)
}

// currentSession is the browser's live session of this tenant, or nil.
func (t *Tenant) currentSession(r *http.Request) *session.Session {
	if t.sessions == nil {
		return nil
	}
	s, err := t.sessions.Get(r.Context(), r, t.id)
	if err != nil {
		return nil
	}
	return s
}

// hintOfSession: the ID token was issued for this very session (its sid),
// to its guest.
func hintOfSession(c *oidc.IDTokenClaims, s *session.Session) bool {
	return c.Subject == s.GuestID && c.SessionID != "" &&
		subtle.ConstantTimeCompare([]byte(c.SessionID), []byte(session.PublicID(s.ID))) == 1
}

// confirmLogout shows the confirmation page. Its form posts the app's
// logout parameters back here with the CSRF token; the hint itself is
// not carried on (it has been checked, and its azp stands in for
// client_id so that post_logout_redirect_uri is still checked exactly).
func (t *Tenant) confirmLogout(w http.ResponseWriter, r *http.Request, s *session.Session, hint *oidc.IDTokenClaims) {
	clientID := r.Form.Get("client_id")
	if hint != nil {
		if clientID != "" && clientID != hint.AuthorizedParty {
			t.errorPage(w, r, http.StatusBadRequest, "invalid_request")
			return
		}
		clientID = hint.AuthorizedParty
	}
	if t.pages == nil {
		t.errorPage(w, r, http.StatusForbidden, "csrf")
		return
	}
	var hidden []pages.Field
	for _, f := range []struct{ name, value string }{
		{"client_id", clientID},
		{"post_logout_redirect_uri", r.Form.Get("post_logout_redirect_uri")},
		{"state", r.Form.Get("state")},
		{"ui_locales", r.Form.Get("ui_locales")},
	} {
		if f.value != "" {
			hidden = append(hidden, pages.Field{Name: f.name, Value: f.value})
		}
	}
	t.pages.Render(w, r, pages.PageLogout, pages.Data{
		Lang:    t.pages.NegotiateUI(splitLocales(r.Form.Get("ui_locales")), r.Header.Get("Accept-Language")),
		Tenant:  t.branding,
		AppName: t.ClientName(clientID),
		CSRF:    t.logoutCSRF(s),
		Actions: map[string]string{"logout": "/" + t.id + "/end_session"},
		Hidden:  hidden,
	})
}

// logoutCSRF is the confirmation's CSRF token: a MAC of the session id,
// so it is worthless in another browser (another session) and dies with
// the session.
func (t *Tenant) logoutCSRF(s *session.Session) string {
	m := hmac.New(sha256.New, t.logoutKey)
	m.Write([]byte("logout|" + t.id + "|" + s.ID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (t *Tenant) logoutCSRFValid(s *session.Session, token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(t.logoutCSRF(s))) == 1
}

// splitLocales splits a space-separated ui_locales value.
func splitLocales(s string) []string { return strings.Fields(s) }
