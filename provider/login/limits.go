package login

import (
	"errors"
	"net/http"

	"go.uber.org/zap"

	"github.com/guestpass/guestpass/connectors/otp"
	"github.com/guestpass/guestpass/pkg/mail"
	"github.com/guestpass/guestpass/pkg/requestid"
	"github.com/guestpass/guestpass/provider/pages"
)

// limitHit names a refusal of Issue by a cap (not the cooldown): the
// metrics label and the page's message key.
func limitHit(err error) (label string, msg pages.MessageKey, ok bool) {
	var le *otp.LimitError
	switch {
	case errors.Is(err, otp.ErrTooManyCodes):
		return "hourly_cap", pages.MsgTooManyCodes, true
	case errors.Is(err, otp.ErrTooManyAddresses):
		return "flow_addresses", pages.MsgTooManyAddresses, true
	case errors.As(err, &le):
		return string(le.Scope) + "_cap", pages.MsgTooManyRequests, true
	}
	return "", "", false
}

// mailRetryAfter is the wait suggested when the mail queue is full.
const mailRetryAfter = "60"

// notSent answers a send whose mail could not be queued (the tenant's
// queue is full, or the server is stopping): the send page again, 503,
// saying the code was not sent, so the guest never waits for mail that
// will not come. Invited or not, the answer is the same (see send).
func (h *Handler) notSent(w http.ResponseWriter, r *http.Request, authReq, flow string, st *signin, err error) {
	if errors.Is(err, mail.ErrQueueFull) {
		h.d.Metrics.RateLimited.WithLabelValues("mail_queue").Inc()
	}
	h.d.Logger.Warn("passcode not sent: mail queue", requestid.Field(r.Context()), zap.Error(err))
	d := h.signinData(authReq, flow, st)
	d.Status, d.Message = http.StatusServiceUnavailable, pages.MsgMailUnavailable
	d.Extra["retryAfter"] = mailRetryAfter
	h.render(w, r, pages.PageSend, d)
}
