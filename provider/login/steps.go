package login

import (
	"context"
	"errors"
	"net/http"

	"github.com/guestpass/guestpass/connectors/otp"
	"github.com/guestpass/guestpass/pkg/guests"
	"github.com/guestpass/guestpass/pkg/session"
	"github.com/guestpass/guestpass/pkg/store"
	"github.com/guestpass/guestpass/provider/op"
)

// Each step reads what it needs in one batch (one store round trip) and
// hands the values down; the repositories take what was read instead of
// reading it again. The loaders below are those batches.

// readRequest is the auth request named in the query, as a read.
func (h *Handler) readRequest(r *http.Request) *store.Read[*op.AuthRequest] {
	return h.d.OP.ReadAuthRequest(r.URL.Query().Get("authRequestID"))
}

// readOTPEnabled is the tenant's passcode policy: the stored override (B5:
// every replica sees a change at once) or the YAML default.
func (h *Handler) readOTPEnabled() *store.Read[bool] {
	return h.d.Policies.ReadEmailOTP(h.t.ID, h.t.EmailOTP.Enabled)
}

// startStep is what the start page needs: the request, the browser's
// session (nil: none) and whether passcodes are on (for a session of a
// passcode sign-in).
type startStep struct {
	req    *op.AuthRequest
	reqErr error
	sess   *session.Session
	otpOn  bool
}

// loadStart reads the start page's values in one round trip (the session
// only when the browser has a cookie).
func (h *Handler) loadStart(ctx context.Context, r *http.Request) (startStep, error) {
	req, sess, on := h.readRequest(r), h.sessions.Read(r), h.readOTPEnabled()
	if err := store.Batch(ctx, h.d.Store, req.Op(), sess.Op(), on.Op()); err != nil {
		return startStep{}, err
	}
	var s startStep
	s.req, s.reqErr = req.Result()
	var err error
	if s.sess, err = sess.Result(); err != nil && !errors.Is(err, session.ErrNoSession) {
		return startStep{}, err
	}
	if s.otpOn, err = on.Result(); err != nil {
		return startStep{}, err
	}
	return s, nil
}

// emailStep is what the email form needs: the request, the typed
// address's guest (Guest nil: none) and whether passcodes are on.
type emailStep struct {
	req    *op.AuthRequest
	reqErr error
	guest  guests.Record
	otpOn  bool
}

// loadEmail reads the email form's values in one round trip; canonical
// "" (an address that did not parse) reads only the request.
func (h *Handler) loadEmail(ctx context.Context, r *http.Request, canonical string) (emailStep, error) {
	req, g, on := h.readRequest(r), h.guests.Read(canonical), h.readOTPEnabled()
	if err := store.Batch(ctx, h.d.Store, req.Op(), g.Op(), on.Op()); err != nil {
		return emailStep{}, err
	}
	var s emailStep
	var err error
	s.req, s.reqErr = req.Result()
	if s.guest, err = g.Result(); err != nil {
		return emailStep{}, err
	}
	if s.otpOn, err = on.Result(); err != nil {
		return emailStep{}, err
	}
	return s, nil
}

// sendStep is what the send step learns in its one round trip: the
// outcome of the issue (the code, or why none) and the guest (where the
// mail goes).
type sendStep struct {
	code     string
	issueErr error
	guest    guests.Record
}

// loadSend runs the issue script and reads the guest in one round trip,
// for every address alike. The script itself checks that passcodes are on
// before it counts or stores anything (otp.ErrDisabled otherwise).
func (h *Handler) loadSend(ctx context.Context, issue *otp.PendingIssue, canonical string) (sendStep, error) {
	g := h.guests.Read(canonical)
	if err := store.Batch(ctx, h.d.Store, issue.Op(), g.Op()); err != nil {
		return sendStep{}, err
	}
	var s sendStep
	var err error
	s.code, s.issueErr = issue.Result()
	if s.guest, err = g.Result(); err != nil {
		return sendStep{}, err
	}
	return s, nil
}

// verifyStep is what the verify form needs: the request, whether
// passcodes are on, the flow's code record and the guest.
type verifyStep struct {
	req    *op.AuthRequest
	reqErr error
	otpOn  bool
	code   otp.Code
	guest  guests.Record
}

// loadVerify reads the verify form's values in one round trip.
func (h *Handler) loadVerify(ctx context.Context, authReq, flow string, st *signin) (verifyStep, error) {
	req, on := h.d.OP.ReadAuthRequest(authReq), h.readOTPEnabled()
	code := h.otp.ReadCode(challenge(flow, authReq), st.Canonical)
	g := h.guests.Read(st.Canonical)
	if err := store.Batch(ctx, h.d.Store, req.Op(), on.Op(), code.Op(), g.Op()); err != nil {
		return verifyStep{}, err
	}
	var s verifyStep
	var err error
	s.req, s.reqErr = req.Result()
	if s.otpOn, err = on.Result(); err != nil {
		return verifyStep{}, err
	}
	if s.code, err = code.Result(); err != nil {
		return verifyStep{}, err
	}
	if s.guest, err = g.Result(); err != nil {
		return verifyStep{}, err
	}
	return s, nil
}
