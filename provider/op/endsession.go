package op

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/guestpass/guestpass/pkg/session"
	"github.com/guestpass/guestpass/provider/pages"
)

// endSession serves /end_session (RP-initiated logout) entirely on our
// side: the library's handler answers its errors in JSON (a person sees
// raw JSON), makes an unknown client_id a logged 500, and is only reached
// after our confirmation page, which would then accept parameters it
// cannot honour. Here every parameter is checked before anything is shown
// or done, on the GET and again on the confirmation's POST, and every
// refusal is the branded error page (400), logged at info.
//
// Any site can send a browser here, so the guest's session ends at once
// only when the app proves it knows that session: an id_token_hint, an ID
// token (not an access token) of the current session. Otherwise the guest
// is asked to confirm, by a POST carrying a CSRF token bound to the
// session. Without a session there is nothing to end: the browser goes
// straight on.
func (t *Tenant) endSession(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		t.refuseLogout(w, r, "malformed form")
		return
	}
	ctx := op.ContextWithIssuer(r.Context(), t.issuer)
	req, reason := t.checkLogout(ctx, r.Form)
	if reason != "" {
		t.refuseLogout(w, r, reason)
		return
	}
	sess, err := t.currentSession(r)
	if err != nil {
		// Unreadable, not absent: "signed out" would be a lie while the
		// session lives on (B4), so the outage's 503, as everywhere.
		t.storeFailed(w, r, err)
		return
	}
	switch {
	case sess == nil:
	case r.Method == http.MethodPost && r.PostForm.Has("csrf"):
		if !t.logoutCSRFValid(sess, r.PostForm.Get("csrf")) {
			t.errorPage(w, r, http.StatusForbidden, pages.MsgCSRF)
			return
		}
	case req.hint != nil && hintOfSession(req.hint, sess):
	default:
		t.confirmLogout(w, r, sess, req)
		return
	}
	if sess != nil {
		if err := t.sessions.DeleteByID(ctx, t.id, sess.ID); err != nil {
			t.storeFailed(w, r, err)
			return
		}
		t.sessions.ClearCookie(w, t.id)
	}
	t.sendBack(w, r, req.redirect)
}

// logoutRequest is a checked logout request.
type logoutRequest struct {
	// hint is the verified ID token the app sent, or nil.
	hint *oidc.IDTokenClaims
	// clientID is the app the request names ("" when it names none).
	clientID string
	// redirectURI is the app's post_logout_redirect_uri, registered for
	// that app exactly ("" for none).
	redirectURI string
	// redirect is where the browser goes once done: redirectURI, or our
	// signed-out page, with the app's state.
	redirect string
	state    string
	locales  string
}

// checkLogout checks the logout parameters as OpenID Connect RP-Initiated
// Logout 1.0 §2 and §3 ask: client_id must agree with the hint's azp, the
// client must be one of ours, and post_logout_redirect_uri must be one of
// its registered URIs, exactly, and needs a client to be checked against.
// reason is "" when the request is acceptable; it is for the log only.
func (t *Tenant) checkLogout(ctx context.Context, form url.Values) (*logoutRequest, string) {
	req := &logoutRequest{clientID: form.Get("client_id"), redirectURI: form.Get("post_logout_redirect_uri"),
		state: form.Get("state"), locales: form.Get("ui_locales")}
	if len(req.state) > maxStateLen || len(req.locales) > 256 {
		return nil, "state or ui_locales too long"
	}
	if raw := form.Get("id_token_hint"); raw != "" {
		hint, reason := t.logoutHint(ctx, raw)
		if reason != "" {
			return nil, reason
		}
		req.hint = hint
		switch {
		case hint != nil && req.clientID != "" && req.clientID != hint.AuthorizedParty:
			return nil, "client_id does not match the id_token_hint"
		case hint != nil:
			req.clientID = hint.AuthorizedParty
		case req.clientID == "":
			// An unverifiable hint is no hint, but its azp may still
			// name the app when client_id is absent (unverifiedAZP).
			req.clientID = unverifiedAZP(raw)
		}
	}
	var c *client
	if req.clientID != "" {
		var ok bool
		if c, ok = t.storage.clients[req.clientID]; !ok {
			return nil, "unknown client"
		}
	}
	req.redirect = "/" + t.id + "/logged-out"
	if req.redirectURI != "" {
		// Without a client there is no list to check the URI against: the
		// OP must not redirect there (RP-Initiated Logout §2).
		if c == nil || !slices.Contains(c.PostLogoutRedirectURIs(), req.redirectURI) {
			return nil, "post_logout_redirect_uri is not registered for the client"
		}
		req.redirect = req.redirectURI
	}
	if req.state != "" {
		u, err := url.Parse(req.redirect)
		if err != nil {
			return nil, "unusable post_logout_redirect_uri"
		}
		q := u.Query()
		q.Set("state", req.state)
		u.RawQuery = q.Encode()
		req.redirect = u.String()
	}
	return req, ""
}

// logoutHint verifies an id_token_hint. A hint that cannot be verified
// (garbage, an ID token signed by a key retired since, another issuer's)
// counts as no hint: it names a session no longer provable, and the
// guest is simply asked to confirm. A token of ours that is not an ID
// token (an access token) is refused: the app sent the wrong thing.
func (t *Tenant) logoutHint(ctx context.Context, raw string) (*oidc.IDTokenClaims, string) {
	claims, err := t.verifyIDTokenHint(ctx, raw)
	switch {
	case errors.Is(err, errNotIDToken):
		return nil, "id_token_hint is not an ID token"
	case err != nil:
		t.log.InfoContext(ctx, "logout: unverifiable id_token_hint ignored", "tenant", t.id)
		return nil, ""
	}
	return claims, ""
}

// unverifiedAZP reads the azp claim of a JWT without verifying it, for a
// hint that failed verification. It only ever stands in for a client_id
// parameter (which anyone may send): it selects the client whose
// registered URIs post_logout_redirect_uri must match, and grants nothing.
func unverifiedAZP(raw string) string {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 || len(parts[1]) > 16<<10 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		AZP string `json:"azp"`
	}
	if json.Unmarshal(b, &c) != nil {
		return ""
	}
	return c.AZP
}

// refuseLogout answers a logout request that cannot be honoured: the
// branded error page. Anyone can send such a request, so it is logged at
// info, never as an error.
func (t *Tenant) refuseLogout(w http.ResponseWriter, r *http.Request, reason string) {
	t.log.InfoContext(r.Context(), "logout request refused", "tenant", t.id, "reason", reason)
	t.errorPage(w, r, http.StatusBadRequest, pages.MsgInvalidRequest)
}

// currentSession is the browser's live session of this tenant, nil when
// it has none, or the store's error when it could not be read.
func (t *Tenant) currentSession(r *http.Request) (*session.Session, error) {
	if t.sessions == nil {
		return nil, nil
	}
	s, err := t.sessions.Get(r.Context(), r, t.id)
	if errors.Is(err, session.ErrNoSession) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("end session: read session: %w", err)
	}
	return s, nil
}

// hintOfSession: the ID token was issued for this very session (its sid),
// to its guest.
func hintOfSession(c *oidc.IDTokenClaims, s *session.Session) bool {
	return c.Subject == s.GuestID && c.SessionID != "" &&
		subtle.ConstantTimeCompare([]byte(c.SessionID), []byte(session.PublicID(s.ID))) == 1
}

// confirmLogout shows the confirmation page. Its form posts the checked
// logout parameters back here with the CSRF token, where they are checked
// again; the hint itself is not carried on (its azp stands in for
// client_id so that post_logout_redirect_uri is still checked exactly).
func (t *Tenant) confirmLogout(w http.ResponseWriter, r *http.Request, s *session.Session, req *logoutRequest) {
	if t.pages == nil {
		t.errorPage(w, r, http.StatusForbidden, pages.MsgCSRF)
		return
	}
	var hidden []pages.Field
	for _, f := range []struct{ name, value string }{
		{"client_id", req.clientID},
		{"post_logout_redirect_uri", req.redirectURI},
		{"state", req.state},
		{"ui_locales", req.locales},
	} {
		if f.value != "" {
			hidden = append(hidden, pages.Field{Name: f.name, Value: f.value})
		}
	}
	t.pages.Render(w, r, pages.PageLogout, pages.Data{
		Lang:    t.pages.NegotiateUI(splitLocales(req.locales), r.Header.Get("Accept-Language")),
		Tenant:  t.branding,
		AppName: t.ClientName(req.clientID),
		CSRF:    t.logoutCSRF(s),
		Actions: pages.Actions{Logout: "/" + t.id + "/end_session"},
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
