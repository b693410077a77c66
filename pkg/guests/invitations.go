package guests

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/guestpass/guestpass/pkg/store"
)

// ErrInvitationInvalid: the redeem token is unknown, used, expired or
// superseded by a newer invitation. The four are deliberately one error:
// the redeem page must not tell a guesser which tokens once existed.
var ErrInvitationInvalid = errors.New("guests: invitation link is not valid")

// Invitation is what a redeem token stands for.
type Invitation struct {
	GuestID   string `json:"gid"`
	Canonical string `json:"addr"`
	// RedirectURL is where the browser goes after redeeming ("" for the
	// tenant's apps page), exactly as the admin gave it.
	RedirectURL string    `json:"redirect,omitempty"`
	Expires     time.Time `json:"exp"`
}

// Invitations issues and redeems single-use redeem tokens. A token is
// stored only as an HMAC under a server key, so a copy of the store does
// not give working links.
type Invitations struct {
	st    store.Store
	key   []byte
	clock func() time.Time
}

// NewInvitations builds Invitations on st; key keys the token hashes
// (derive it from a server secret), clock gives expiry times.
func NewInvitations(st store.Store, key []byte, clock func() time.Time) *Invitations {
	if clock == nil {
		clock = time.Now
	}
	return &Invitations{st: st, key: key, clock: clock}
}

// inviteKey is tagged by the token's hash: a tenant's invitations spread
// over a Cluster (no script reads one with another key).
func inviteKey(tenant, hash string) string { return store.TagKey(tenant, hash, "invite") }

// currentKey is a hash: guest id → the hash of the guest's newest token.
// A token whose hash is not the current one was superseded by a re-invite.
func currentKey(tenant string) string { return store.Key(tenant, "invite-current") }

func (iv *Invitations) hash(tenant, token string) string {
	m := hmac.New(sha256.New, iv.key)
	m.Write([]byte(tenant + "|" + token))
	return hex.EncodeToString(m.Sum(nil))
}

// Issue makes a new redeem token for g that expires after ttl, and voids
// every older token of the same guest (re-invite). It returns the token,
// which the caller puts in the link and never stores or logs.
func (iv *Invitations) Issue(ctx context.Context, tenant string, g *Guest, redirectURL string, ttl time.Duration) (string, error) {
	if tenant == "" || g == nil || ttl <= 0 {
		return "", fmt.Errorf("%w: tenant, guest and ttl are required", errInvalid)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("guests: invitation token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	h := iv.hash(tenant, token)
	rec, err := json.Marshal(Invitation{GuestID: g.ID, Canonical: g.Canonical, RedirectURL: redirectURL,
		Expires: iv.clock().UTC().Add(ttl)})
	if err != nil {
		return "", fmt.Errorf("guests: encode invitation: %w", err)
	}
	prev, err := iv.st.HGet(ctx, currentKey(tenant), g.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("guests: read invitation of %s: %w", tenant, err)
	}
	// The record first, then the pointer that makes it current: a crash
	// in between leaves an unreachable record that expires by itself.
	ops := []*store.Op{store.SetOp(inviteKey(tenant, h), rec, ttl), store.HSetOp(currentKey(tenant), g.ID, []byte(h))}
	if len(prev) > 0 {
		ops = append(ops, store.DeleteOp(inviteKey(tenant, string(prev))))
	}
	if err := iv.st.Pipeline(ctx, ops...); err != nil {
		return "", fmt.Errorf("guests: save invitation of %s: %w", tenant, err)
	}
	return token, nil
}

// Lookup returns the invitation of token without using it up, or
// ErrInvitationInvalid.
func (iv *Invitations) Lookup(ctx context.Context, tenant, token string) (*Invitation, error) {
	inv, _, err := iv.lookup(ctx, tenant, token)
	return inv, err
}

func (iv *Invitations) lookup(ctx context.Context, tenant, token string) (*Invitation, string, error) {
	if tenant == "" || token == "" || len(token) > 128 {
		return nil, "", ErrInvitationInvalid
	}
	h := iv.hash(tenant, token)
	raw, err := iv.st.Get(ctx, inviteKey(tenant, h))
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", ErrInvitationInvalid
	}
	if err != nil {
		return nil, "", fmt.Errorf("guests: read invitation of %s: %w", tenant, err)
	}
	var inv Invitation
	if err := json.Unmarshal(raw, &inv); err != nil {
		return nil, "", fmt.Errorf("guests: decode invitation of %s: %w", tenant, err)
	}
	if !iv.clock().Before(inv.Expires) {
		return nil, "", ErrInvitationInvalid
	}
	cur, err := iv.st.HGet(ctx, currentKey(tenant), inv.GuestID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, "", fmt.Errorf("guests: read invitation of %s: %w", tenant, err)
	}
	if string(cur) != h {
		return nil, "", ErrInvitationInvalid // superseded (or the guest deleted)
	}
	return &inv, h, nil
}

// Redeem uses token up: of several concurrent callers exactly one gets
// the invitation, the others ErrInvitationInvalid.
func (iv *Invitations) Redeem(ctx context.Context, tenant, token string) (*Invitation, error) {
	inv, h, err := iv.lookup(ctx, tenant, token)
	if err != nil {
		return nil, err
	}
	if _, err := iv.st.Take(ctx, inviteKey(tenant, h)); errors.Is(err, store.ErrNotFound) {
		return nil, ErrInvitationInvalid
	} else if err != nil {
		return nil, fmt.Errorf("guests: redeem invitation of %s: %w", tenant, err)
	}
	return inv, nil
}

// Void removes the guest's current token (the guest was deleted).
func (iv *Invitations) Void(ctx context.Context, tenant, guestID string) error {
	prev, err := iv.st.HGet(ctx, currentKey(tenant), guestID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("guests: read invitation of %s: %w", tenant, err)
	}
	if err := iv.st.Delete(ctx, inviteKey(tenant, string(prev))); err != nil {
		return fmt.Errorf("guests: void invitation of %s: %w", tenant, err)
	}
	if err := iv.st.HDel(ctx, currentKey(tenant), guestID); err != nil {
		return fmt.Errorf("guests: void invitation of %s: %w", tenant, err)
	}
	return nil
}
