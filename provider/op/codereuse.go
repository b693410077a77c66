package op

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/guestpass/guestpass/pkg/store"
)

// A redeemed authorization code leaves a short-lived marker naming the
// tokens it produced. RFC 6749 §4.1.2: a code presented a second time is
// refused and the tokens issued for it SHOULD be revoked, since one of the
// two presentations came from someone who should not have the code. The
// marker is written with the tokens' save and read with the code's take,
// in the pipelines those already send: the first redemption costs no
// extra round trip.

// usedCodeTTL is how long a reuse is recognised: well beyond the code's
// own lifetime (authCodeTTL), so a replay a little late still counts.
const usedCodeTTL = 10 * time.Minute

// usedCode is the marker of a redeemed code.
type usedCode struct {
	Code     string `json:"c"`  // hash of the code
	AccessID string `json:"at"` // the access token record issued
	// Family is the refresh token family issued ("" without one) and
	// Until its end: the revoked mark must live as long as the family.
	Family string    `json:"f,omitempty"`
	Until  time.Time `json:"u,omitempty"`
}

func (s *storage) usedCodeKey(authRequestID string) string { return s.k("code-used", authRequestID) }

// redeemOps are the writes that end a redeemed auth request, sent with
// the tokens' save: the request's deletion and the code's marker.
func (s *storage) redeemOps(r op.TokenRequest, accessID, family string, until time.Time) ([]*store.Op, error) {
	a, ok := r.(*AuthRequest)
	if !ok || a.redeemedCode == "" {
		return nil, nil
	}
	b, err := marshalJSON(&usedCode{Code: a.redeemedCode, AccessID: accessID, Family: family, Until: until}, 256)
	if err != nil {
		return nil, fmt.Errorf("encode used code: %w", err)
	}
	return []*store.Op{store.DeleteOp(s.k("authreq", a.ID)), store.SetOp(s.usedCodeKey(a.ID), b, usedCodeTTL)}, nil
}

// revokeReusedCode revokes what a code produced when that very code (its
// hash matches the marker) is presented again: the access token record,
// and the refresh family (which also ends every access token issued in
// it, liveAccessToken). The marker stays until it expires: a further
// presentation revokes again, which changes nothing.
func (s *storage) revokeReusedCode(ctx context.Context, marker []byte, code string) error {
	var u usedCode
	if err := json.Unmarshal(marker, &u); err != nil {
		return fmt.Errorf("decode used code: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(u.Code), []byte(hashToken(code))) != 1 {
		return nil
	}
	ops := []*store.Op{store.DeleteOp(s.k("at", u.AccessID))}
	if op := s.revokeFamilyOp(u.Family, u.Until); op != nil {
		ops = append(ops, op)
	}
	if err := s.st.Pipeline(ctx, ops...); err != nil {
		return fmt.Errorf("revoke tokens of a reused code: %w", err)
	}
	return nil
}
