package login

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/guestpass/guestpass/connectors"
	"github.com/guestpass/guestpass/connectors/otp"
	"github.com/guestpass/guestpass/pkg/canon"
	"github.com/guestpass/guestpass/pkg/guests"
	"github.com/guestpass/guestpass/pkg/mail"
	"github.com/guestpass/guestpass/pkg/requestid"
	"github.com/guestpass/guestpass/pkg/session"
	"github.com/guestpass/guestpass/pkg/store"
	"github.com/guestpass/guestpass/provider/op"
	"github.com/guestpass/guestpass/provider/pages"
)

// flowPage shows a page of the passcode steps (send, code). It reads only
// cookies: no store round trip for moving between pages.
func (h *Handler) flowPage(page string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		authReq, flow, st, ok := h.currentPage(w, r)
		if !ok {
			return
		}
		h.render(w, r, page, h.signinData(authReq, flow, st))
	}
}

// postStep checks a POST of the passcode steps (flow cookie, CSRF token)
// and reads the flow's chosen address; on failure it has answered.
func (h *Handler) postStep(w http.ResponseWriter, r *http.Request) (authReq, flow string, st *signin, ok bool) {
	if flow, ok = h.checkPost(w, r); !ok {
		return "", "", nil, false
	}
	authReq = requestID(r)
	if st, ok = h.current(w, r, authReq, flow); !ok {
		return "", "", nil, false
	}
	return authReq, flow, st, true
}

// send is the send page's Send: the first code of this sign-in. It
// answers with the code page itself, not a redirect to it (the redirect
// cost every sign-in a request), so reloading the answer, a double
// submission, or Back then Send post it again. The first send is
// therefore idempotent per sign-in: once a code was issued, the sealed
// state says so (signin.Sent) and a repeated Send only shows the code
// page: no new code, no mail, nothing counted, no store round trip. The
// state cookie is the cheapest place for that mark: send reads it
// anyway, it is bound to tenant, flow, auth request and the address
// chosen (a new address on the email page starts without the mark), and
// at worst a stale or replayed cookie lacks the mark, which gets a
// resend's treatment (cooldown and caps). Two submissions that race
// before the mark is set are the same case: the second meets the
// cooldown (without one configured, it replaces the code as a resend
// would). Resend (resend) takes no notice of the mark.
func (h *Handler) send(w http.ResponseWriter, r *http.Request) { h.issue(w, r, true) }

// resend is the code page's Resend: always a new code, which replaces the
// earlier one, under the cooldown and the caps.
func (h *Handler) resend(w http.ResponseWriter, r *http.Request) { h.issue(w, r, false) }

// issue issues a code and answers with the code page; first (the send
// page's Send) answers a sign-in that has one with the page alone. A code
// is issued for every address, invited or not, so that both cost the same
// and hit the same limits; only an address that may sign in is mailed.
//
// A place in the tenant's mail queue is taken first, for every address:
// when there is none the guest hears that the code could not be sent, and
// since the answer depends on the queue alone, not on whether a mail
// would have gone out, invited and uninvited addresses still look alike.
// For the same reason the mail is rendered and queued after the answer
// (mailCode): work done only for an address that may sign in must not
// lengthen the answer (B3: no enumeration, timing included).
func (h *Handler) issue(w http.ResponseWriter, r *http.Request, first bool) {
	authReq, flow, st, ok := h.postStep(w, r)
	if !ok || !h.havePasscode(w, r) {
		return
	}
	if first && bool(st.Sent) {
		h.render(w, r, pages.PageCode, h.signinData(authReq, flow, st))
		return
	}
	slot, err := h.d.Mailer.Reserve(h.t.ID)
	if err != nil {
		h.notSent(w, r, authReq, flow, st, err)
		return
	}
	handed := false
	defer func() {
		if !handed {
			slot.Release()
		}
	}()
	// A browser that signed in as this address before (device cookie)
	// has a cooldown and an hourly count of its own, out of a stranger's
	// reach (see otp.Origin).
	issue, err := h.passcode.PrepareCode(connectors.CodeRequest{
		Canonical: st.Canonical, Challenge: challenge(flow, authReq), Flow: flow, ClientIP: h.d.ClientIP.Key(r),
		Device: h.devices.ID(r, st.Canonical)})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	// The issue and the guest's record (where the mail goes) travel in one
	// round trip, for every address alike. The issue script checks the
	// passcode policy first: while passcodes are off it counts and stores
	// nothing. (Verify checks the policy again.)
	step, err := h.loadSend(r.Context(), issue, st.Canonical)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	code, err := step.code, step.issueErr
	if errors.Is(err, otp.ErrDisabled) {
		h.errorPage(w, r, http.StatusForbidden, pages.MsgOTPDisabled)
		return
	}
	if retry, ok := otp.RetryAfter(err); ok {
		h.d.Metrics.RateLimited.WithLabelValues("cooldown").Inc()
		d := h.signinData(authReq, flow, st)
		d.Status, d.Message = http.StatusTooManyRequests, pages.MsgCooldown
		d.Extra["retryAfter"] = strconv.Itoa(int(retry.Round(time.Second).Seconds()))
		h.render(w, r, pages.PageCode, d)
		return
	}
	if label, msg, ok := limitHit(err); ok {
		h.d.Metrics.RateLimited.WithLabelValues(label).Inc()
		d := h.signinData(authReq, flow, st)
		d.Status, d.Message = http.StatusTooManyRequests, msg
		h.render(w, r, pages.PageCode, d)
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !st.Sent {
		// Every address is marked alike: the cookie keeps its length.
		st.Sent = true
		if err := h.flows.SetState(w, flow, authReq, st); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	if st.Allowed {
		handed = true
		h.mailCode(r, st, recipient(step.guest.Guest, st), code, slot)
	}
	h.render(w, r, pages.PageCode, h.signinData(authReq, flow, st))
}

// recipient is where a code mail goes (B10): a known guest's stored
// address, else the address as typed (self-service sign-up). The guest
// (nil: none) was read with the issue.
func recipient(g *guests.Guest, st *signin) string {
	if g == nil || g.Email == "" {
		return st.Typed
	}
	return g.Email
}

// mailCode renders the passcode mail to the address to and queues it in
// the place reserved for it, after the answer: the slot is its own from
// here on. The place was held before the code was issued, so only a
// store failure between the two can keep the mail from the queue; the
// dispatcher counts and logs that (mail.Slot.Send), and the guest's
// resend covers it, as it covers a mail lost on the way. A shutdown does
// not: the dispatcher's Close waits (within its deadline) for the places
// held, so the mail of an answer already sent is queued before it stops.
func (h *Handler) mailCode(r *http.Request, st *signin, to, code string, slot mail.Slot) {
	cm := mail.CodeMail{
		Lang:        h.d.Pages.NegotiateUI([]string{st.Lang}, r.Header.Get("Accept-Language")),
		To:          to,
		TenantName:  h.t.Branding.DisplayName,
		AppName:     h.d.OP.ClientName(st.ClientID),
		Code:        code,
		AccentColor: h.t.Branding.AccentColor,
		Validity:    h.policy.CodeTTL,
	}
	reqID := requestid.Field(r.Context())
	go func() {
		m, err := h.d.Mail.Code(cm)
		if err != nil {
			slot.Release()
			h.d.Logger.Error("passcode mail not rendered", reqID, zap.String("to", canon.MaskEmail(to)), zap.Error(err))
			return
		}
		_ = slot.Send(m) // a failure is counted and logged by the dispatcher
	}()
}

// havePasscode answers for a tenant whose chain has no code connector;
// it reports whether the passcode steps may go on.
func (h *Handler) havePasscode(w http.ResponseWriter, r *http.Request) bool {
	if h.passcode == nil {
		h.errorPage(w, r, http.StatusForbidden, pages.MsgNoMethod)
		return false
	}
	return true
}

// verify checks a typed code. Its format is checked first, from the form
// alone: a malformed code costs no store work (B10). Then the check script
// runs in the step's one batch with the reads of the request and the guest,
// before the handler has seen either: the script needs nothing read first,
// and a check cannot wait for the request without a second round trip.
// So the code is judged, charged and, if right, consumed in the cases
// refused after the batch too:
//   - a request unknown or expired, or already completed (a replay, or a
//     submission racing the winning one): a code is bound to its request
//     (the challenge), so consuming or charging one there takes nothing
//     from a sign-in that could still succeed;
//   - an address that may not sign in: it was never mailed a code, so the
//     only right code it can send is a lucky guess, which is consumed and
//     answered as a wrong one (as before).
//
// A wrong code is charged in all of them, as a guess should be. While
// passcodes are off the script refuses before it counts or consumes
// anything.
func (h *Handler) verify(w http.ResponseWriter, r *http.Request) {
	authReq, flow, st, ok := h.postStep(w, r)
	if !ok || !h.havePasscode(w, r) {
		return
	}
	code, err := canon.Code(r.PostFormValue("code"))
	if err != nil {
		d := h.signinData(authReq, flow, st)
		d.Status, d.FieldError = http.StatusBadRequest, pages.MsgCodeFormat
		h.render(w, r, pages.PageCode, d)
		return
	}
	// A browser that signed in as this address before spends its own
	// failure budget (device cookie), out of a stranger's reach.
	check, err := h.passcode.PrepareVerify(connectors.CodeRequest{Canonical: st.Canonical,
		Challenge: challenge(flow, authReq), Device: h.devices.ID(r, st.Canonical)}, code)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	// The check, the request and the guest in one round trip.
	step, err := h.loadVerify(r.Context(), authReq, check, st)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	a := step.req
	if !h.checkRequest(w, r, a, step.reqErr, true) {
		return
	}
	d := h.signinData(a.ID, flow, st)
	if a.Done() {
		// A code was already accepted for this request (a replay, or a
		// submission racing the winning one): the answer of a used code,
		// never a second trip to the app (B3: exactly one success).
		d.Status, d.FieldError = http.StatusBadRequest, pages.MsgCodeInvalid
		h.render(w, r, pages.PageCode, d)
		return
	}
	ident, err := step.ident, step.checkErr
	if errors.Is(err, otp.ErrDisabled) {
		h.errorPage(w, r, http.StatusForbidden, pages.MsgOTPDisabled)
		return
	}
	if err == nil && !st.Allowed {
		// Unreachable but by a lucky guess: such an address was never
		// mailed. It gets the answer of a wrong code.
		err = otp.ErrInvalid
	}
	h.d.Metrics.Verifications.WithLabelValues(otp.Outcome(err)).Inc()
	switch {
	case errors.Is(err, otp.ErrLocked):
		h.d.Metrics.Lockouts.Inc()
		d.Status, d.FieldError = http.StatusTooManyRequests, pages.MsgLocked
		h.render(w, r, pages.PageCode, d)
		return
	case errors.Is(err, otp.ErrInvalid):
		d.Status, d.FieldError = http.StatusBadRequest, pages.MsgCodeInvalid
		h.render(w, r, pages.PageCode, d)
		return
	case err != nil:
		h.fail(w, r, err)
		return
	}
	if err := h.devices.Set(w, st.Canonical); err != nil {
		// Only a convenience is lost: the next sign-in uses the address's budget.
		h.d.Logger.Warn("device cookie not set", requestid.Field(r.Context()), zap.Error(err))
	}
	h.signIn(w, r, a, flow, st, step.guest, h.passcode.Source(), ident, connectors.AMRPasscode)
}

// signIn records a sign-in through a connector whose identity was
// accepted: the guest (source recorded, sticky; rec is the guest as the
// step read it), a new session, and the completed auth request; then on
// to the app.
func (h *Handler) signIn(w http.ResponseWriter, r *http.Request, a *op.AuthRequest, flow string, st *signin,
	rec guests.Record, source connectors.Source, ident connectors.Identity, amr string) {
	// A known guest keeps the stored address and name; a new one
	// (self-service sign-up) is created with the address as typed and the
	// name the connector knows. The guest read in the step's batch is
	// where the write starts.
	g, err := h.guests.RecordSignInFrom(r.Context(), rec, st.Canonical,
		guests.SignIn{Email: st.Typed, Source: source.String(), DisplayName: ident.Name, Subject: subjectOf(source, ident)})
	if !h.recorded(w, r, st, source, err) {
		return
	}
	h.startSession(w, r, a, flow, g, source, ident, amr)
}

// subjectOf is what is kept of the person's id at the source: nothing
// for the passcode, whose subject is the address itself.
func subjectOf(source connectors.Source, ident connectors.Identity) string {
	if source == connectors.SourceOTP {
		return ""
	}
	return ident.UserID
}

// recorded answers a guest write that failed, and reports whether the
// sign-in may go on.
func (h *Handler) recorded(w http.ResponseWriter, r *http.Request, st *signin, source connectors.Source, err error) bool {
	switch {
	case err == nil:
		return true
	case errors.Is(err, guests.ErrSourceMismatch):
		// Bound to another method meanwhile (a concurrent first sign-in,
		// an admin's change): this method is not the guest's.
		h.d.Logger.Info("sign-in refused: guest bound to another source", requestid.Field(r.Context()),
			zap.String("source", source.String()))
		h.errorPage(w, r, http.StatusForbidden, pages.MsgNoMethod)
	case errors.Is(err, guests.ErrSubjectMismatch):
		// Another person at the source now holds the address (recycled
		// upstream): the guest is not theirs.
		h.d.Logger.Warn("sign-in refused: another account at the source", requestid.Field(r.Context()),
			zap.String("source", source.String()))
		d := pages.Data{Status: http.StatusForbidden, Message: pages.MsgUpstreamSubject, Email: st.shown(),
			Extra: map[string]string{"name": h.sourceName(source)}}
		h.render(w, r, pages.PageError, d)
	default:
		h.fail(w, r, err)
	}
	return false
}

// sourceName is the display name of the connector that records source.
func (h *Handler) sourceName(source connectors.Source) string {
	if k := h.d.Chain.BySource(source); k != nil {
		return k.Name()
	}
	return source.String()
}

// startSession starts the session of a recorded sign-in and completes the
// request.
func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, a *op.AuthRequest, flow string, g *guests.Guest,
	source connectors.Source, ident connectors.Identity, amr string) {
	// A fresh session id on every sign-in (no fixation); finishNew stores it
	// and ends the browser's old session, if any.
	sess, err := h.sessions.Prepare(session.Session{
		GuestID: g.ID, Email: g.Email, EmailVerified: ident.EmailVerified, Name: g.DisplayName,
		Source: source.String(), AMR: []string{amr}, AuthTime: h.d.Clock().UTC(),
	}, h.t.Session.Lifetime)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.d.Metrics.SignIns.WithLabelValues(source.String()).Inc()
	h.finishNew(w, r, a, sess, flow)
}

// complete completes a request from a live session (single sign-on): one
// write, and the browser goes on to the OP.
func (h *Handler) complete(w http.ResponseWriter, r *http.Request, a *op.AuthRequest, s *session.Session, flow string) {
	done, err := h.d.OP.Complete(a, identity(s), flow)
	if err == nil {
		err = h.d.Store.Pipeline(r.Context(), done.Ops...)
	}
	h.answer(w, r, done, err)
}

// finishNew writes a new sign-in's last batch in one round trip: the new
// session (only if its id is new), the completed request, and the end of
// the browser's old session; then it sets the session cookie.
func (h *Handler) finishNew(w http.ResponseWriter, r *http.Request, a *op.AuthRequest, s *session.Session, flow string) {
	done, err := h.d.OP.Complete(a, identity(s), flow)
	if err != nil {
		h.answer(w, r, nil, err)
		return
	}
	save := h.sessions.SaveOp(s)
	err = store.Batch(r.Context(), h.d.Store, append(done.Ops, save, h.sessions.EndOp(r))...)
	if err == nil {
		err = session.Saved(save)
	}
	if err == nil {
		err = h.sessions.SetCookie(w, s)
	}
	h.answer(w, r, done, err)
}

// identity is what the OP puts in the tokens of a session's sign-in.
func identity(s *session.Session) op.Identity {
	return op.Identity{
		Subject: s.GuestID, Email: s.Email, EmailVerified: s.EmailVerified, Name: s.Name, Source: s.Source,
		AMR: s.AMR, AuthTime: s.AuthTime, SessionID: session.PublicID(s.ID),
	}
}

// answer sends the browser to the app with its code once the request is
// complete (err: why it is not).
func (h *Handler) answer(w http.ResponseWriter, r *http.Request, done *op.Completion, err error) {
	if errors.Is(err, op.ErrUnknownRequest) {
		h.errorPage(w, r, http.StatusBadRequest, pages.MsgExpiredRequest)
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	done.Answer(w, r)
}

// challenge binds a passcode to the browser's flow and the auth request.
func challenge(flow, authReq string) string { return flow + "|" + authReq }
