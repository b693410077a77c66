package login

import (
	"context"
	"errors"
	"net/http"

	"github.com/guestpass/guestpass/connectors"
	"github.com/guestpass/guestpass/connectors/otp"
	"github.com/guestpass/guestpass/pkg/guests"
	"github.com/guestpass/guestpass/pkg/session"
	"github.com/guestpass/guestpass/pkg/store"
	"github.com/guestpass/guestpass/provider/op"
)

// Each step reads what it needs in one batch (one store round trip) and
// hands the values down; the repositories take what was read instead of
// reading it again. The loaders below are those batches.

// requestID is the auth request the query names (the query parsed once:
// a step reads the request and extends it).
func requestID(r *http.Request) string { return r.URL.Query().Get("authRequestID") }

// readToggles is the switches of the chain's members that can be turned
// off (the passcode: the stored override, B5, so every replica sees a
// change at once, or the YAML default).
func (h *Handler) readToggles() connectors.ToggleReads { return h.d.Chain.ReadToggles() }

// startStep is what the start page needs: the request, the browser's
// session (nil: none) and the chain's switches (for a session of a
// connector that can be turned off).
type startStep struct {
	req    *op.AuthRequest
	reqErr error
	sess   *session.Session
	on     connectors.Toggles
}

// loadStart reads the start page's values in one round trip (the session
// only when the browser has a cookie), which also gives the request the
// lifetime of a sign-in in progress.
func (h *Handler) loadStart(ctx context.Context, r *http.Request) (startStep, error) {
	id := requestID(r)
	req, sess, on := h.d.OP.ReadAuthRequest(id), h.sessions.Read(r), h.readToggles()
	touch := h.d.OP.TouchAuthRequestOp(id)
	if err := store.Batch(ctx, h.d.Store, append(on.Ops(), req.Op(), sess.Op(), touch)...); err != nil {
		return startStep{}, err
	}
	a, reqErr := req.Result()
	return startResults(a, reqErr, sess, on)
}

// startResults is the start step from its batch's answers.
func startResults(a *op.AuthRequest, reqErr error, sess *store.Read[*session.Session], on connectors.ToggleReads) (startStep, error) {
	s := startStep{req: a, reqErr: reqErr}
	var err error
	if s.sess, err = sess.Result(); err != nil && !errors.Is(err, session.ErrNoSession) {
		return startStep{}, err
	}
	if s.on, err = on.Result(); err != nil {
		return startStep{}, err
	}
	return s, nil
}

// emailStep is what the email form needs: the request, the typed
// address's guest (Guest nil: none) and the chain's switches.
type emailStep struct {
	req    *op.AuthRequest
	reqErr error
	guest  guests.Record
	on     connectors.Toggles
}

// loadEmail reads the email form's values in one round trip; canonical
// "" (an address that did not parse) reads only the request. The guest
// answered the page /authorize showed: the request gets a sign-in's
// lifetime (TouchAuthRequestOp) in the same batch, as a login_hint gives
// it at /authorize (continueHinted).
func (h *Handler) loadEmail(ctx context.Context, r *http.Request, canonical string) (emailStep, error) {
	id := requestID(r)
	req, g, on := h.d.OP.ReadAuthRequest(id), h.guests.Read(canonical), h.readToggles()
	touch := h.d.OP.TouchAuthRequestOp(id)
	if err := store.Batch(ctx, h.d.Store, append(on.Ops(), req.Op(), g.Op(), touch)...); err != nil {
		return emailStep{}, err
	}
	var s emailStep
	var err error
	s.req, s.reqErr = req.Result()
	if s.guest, err = g.Result(); err != nil {
		return emailStep{}, err
	}
	if s.on, err = on.Result(); err != nil {
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
func (h *Handler) loadSend(ctx context.Context, issue connectors.PendingCode, canonical string) (sendStep, error) {
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

// verifyStep is what the verify form needs: the request, the outcome of
// the code's check (the identity, or why none) and the guest.
type verifyStep struct {
	req      *op.AuthRequest
	reqErr   error
	ident    connectors.Identity
	checkErr error
	guest    guests.Record
}

// loadVerify runs the code's check (the passcode switch among it) and
// reads the request and the guest in one round trip.
func (h *Handler) loadVerify(ctx context.Context, authReq string, check *otp.PendingVerify, st *signin) (verifyStep, error) {
	req, g := h.d.OP.ReadAuthRequest(authReq), h.guests.Read(st.Canonical)
	if err := store.Batch(ctx, h.d.Store, req.Op(), check.Op(), g.Op()); err != nil {
		return verifyStep{}, err
	}
	var s verifyStep
	var err error
	s.req, s.reqErr = req.Result()
	s.ident, s.checkErr = check.Result()
	if s.guest, err = g.Result(); err != nil {
		return verifyStep{}, err
	}
	return s, nil
}

// connectorStep is what a connector's sign-in (password, upstream
// callback) needs besides the connector's answer: the request, the guest
// whose sign-in it records, the chain's switches (to check that the chain
// still picks the connector) and, for a password, the attempt just counted.
type connectorStep struct {
	req      *op.AuthRequest
	reqErr   error
	guest    guests.Record
	on       connectors.Toggles
	attempts int64
	// subjectAt is the address the guests' subjects index names for the
	// identity's subject at the connector's source ("" none, or not read).
	subjectAt string
}

// loadConnector reads a connector step's values in one round trip;
// attempt (nil: none) counts a password attempt in the same batch, and
// subject (nil: none) reads the guest an upstream subject belongs to.
func (h *Handler) loadConnector(ctx context.Context, authReq, canonical string, attempt *store.Read[int64], subject *store.Read[string]) (connectorStep, error) {
	req, g, on := h.d.OP.ReadAuthRequest(authReq), h.guests.Read(canonical), h.readToggles()
	ops := append(on.Ops(), req.Op(), g.Op())
	if attempt != nil {
		ops = append(ops, attempt.Op())
	}
	if subject != nil {
		ops = append(ops, subject.Op())
	}
	if err := store.Batch(ctx, h.d.Store, ops...); err != nil {
		return connectorStep{}, err
	}
	var s connectorStep
	var err error
	s.req, s.reqErr = req.Result()
	if s.guest, err = g.Result(); err != nil {
		return connectorStep{}, err
	}
	if s.on, err = on.Result(); err != nil {
		return connectorStep{}, err
	}
	if attempt != nil {
		if s.attempts, err = attempt.Result(); err != nil {
			return connectorStep{}, err
		}
	}
	if subject != nil {
		if s.subjectAt, err = subject.Result(); err != nil {
			return connectorStep{}, err
		}
	}
	return s, nil
}
