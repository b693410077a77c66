// Package connectors decides how a guest is authenticated (PRODUCT.md B2):
// the small interfaces a connector implements, and the Chain that picks
// one for an address.
//
// As in Dex, a connector implements only what it can do; the login pages
// discover its capabilities with a type switch (a password form for a
// PasswordConnector, a redirect for a CallbackConnector). The email
// one-time passcode is not a Connector: it is the chain's fallback.
package connectors

import (
	"context"
	"strings"
)

// Connector is one configured upstream way to authenticate.
type Connector interface {
	// ID is the configured id; a guest's source is derived from it.
	ID() string
	// Source is what is recorded on the guest ("microsoft", "directory:staff", ...).
	Source() string
	// Claims reports whether this connector authenticates the canonical address.
	Claims(canonical string) bool
}

// PasswordConnector checks a password (directory accounts).
type PasswordConnector interface {
	Connector
	Login(ctx context.Context, canonical, password string) (Identity, error)
}

// CallbackConnector sends the browser to an upstream provider and back.
type CallbackConnector interface {
	Connector
	LoginURL(ctx context.Context, state, loginHint string) (string, error)
	HandleCallback(ctx context.Context, query map[string][]string) (Identity, error)
}

// Identity is what a connector established.
type Identity struct {
	Email         string
	EmailVerified bool
	Name          string
}

// SourceOTP is the source of guests who redeemed with a passcode.
const SourceOTP = "otp"

// Kind is the method the chain chose.
type Kind int

const (
	// KindNone: no method is available for the address (B2 step 5).
	KindNone Kind = iota
	// KindOTP: the email one-time passcode.
	KindOTP
	// KindConnector: Method.Connector authenticates the address.
	KindConnector
	// KindOTPDisabled: the guest is bound to passcodes, which are off.
	KindOTPDisabled
)

// Method is the chain's answer.
type Method struct {
	Kind      Kind
	Connector Connector
}

// Chain is the tenant's connectors in configured order.
type Chain struct {
	list []Connector
}

// NewChain keeps the order given: the first connector that claims an
// address wins.
func NewChain(list ...Connector) *Chain { return &Chain{list: list} }

// Resolve picks the method for an address. source is the guest's recorded
// source ("" for a new or reset guest); otpEnabled is the tenant's
// current passcode policy.
func (c *Chain) Resolve(canonical, source string, otpEnabled bool) Method {
	if source != "" {
		// Sticky: a redeemed guest keeps their source (B2 step 2), even if
		// another connector would now claim the address.
		if source == SourceOTP {
			if otpEnabled {
				return Method{Kind: KindOTP}
			}
			return Method{Kind: KindOTPDisabled}
		}
		for _, k := range c.list {
			if k.Source() == source {
				return Method{Kind: KindConnector, Connector: k}
			}
		}
		// The connector was removed from the config: no silent downgrade
		// to passcodes (a federation guest must not fall back).
		return Method{Kind: KindNone}
	}
	for _, k := range c.list {
		if k.Claims(canonical) {
			return Method{Kind: KindConnector, Connector: k}
		}
	}
	if otpEnabled {
		return Method{Kind: KindOTP}
	}
	return Method{Kind: KindNone}
}

// DomainOf returns the domain of a canonical address.
func DomainOf(canonical string) string {
	if i := strings.LastIndexByte(canonical, '@'); i >= 0 {
		return canonical[i+1:]
	}
	return ""
}
