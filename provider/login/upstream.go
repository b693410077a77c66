package login

import (
	"context"
	"errors"
	"time"

	"github.com/guestpass/guestpass/connectors"
)

// DefaultUpstreamTimeout bounds one call to a connector's backend when
// Deps.UpstreamTimeout is zero: an LDAP server or an upstream provider
// that hangs yields a page, not a hung request.
const DefaultUpstreamTimeout = 10 * time.Second

// Outcomes of an upstream call, as counted in /metrics.
const (
	outcomeOK          = "ok"
	outcomeDenied      = "denied"
	outcomeUnreachable = "unreachable"
	outcomeBad         = "bad_response"
	outcomeError       = "error"
)

// upstreamOutcome classifies a connector's error by the contract's kinds;
// a deadline that ran out is an unreachable backend whatever the
// connector wrapped it in.
func upstreamOutcome(err error) string {
	switch {
	case err == nil:
		return outcomeOK
	case errors.Is(err, connectors.ErrUnreachable), errors.Is(err, context.DeadlineExceeded):
		return outcomeUnreachable
	case errors.Is(err, connectors.ErrDenied):
		return outcomeDenied
	case errors.Is(err, connectors.ErrBadResponse):
		return outcomeBad
	}
	return outcomeError
}

// callUpstream runs one call to k's backend under the deadline, and
// counts it by connector type and outcome, with its latency.
func (h *Handler) callUpstream(ctx context.Context, k connectors.Connector, call func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, h.upstreamTimeout)
	defer cancel()
	start := h.d.Clock()
	err := call(ctx)
	typ := k.Source().Type()
	h.d.Metrics.UpstreamCalls.WithLabelValues(typ, upstreamOutcome(err)).Inc()
	h.d.Metrics.UpstreamDuration.WithLabelValues(typ).Observe(h.d.Clock().Sub(start).Seconds())
	return err
}
