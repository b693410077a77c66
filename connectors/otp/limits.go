package otp

import (
	"fmt"
	"strings"

	"github.com/guestpass/guestpass/pkg/store"
)

// The limits beyond one address (PRODUCT.md B8, issue 6 item 9): one flow
// may mail only so many distinct mailboxes, one client and one tenant only
// so many codes an hour. They are checked in the same script as the
// cooldown and the address's cap, so sending a code stays one round trip,
// and a request refused by any of them counts against none.

// Origin is who asks for a code.
type Origin struct {
	// Flow is the browser's sign-in flow (its flow cookie's id): the
	// distinct addresses it was sent codes for are capped.
	Flow string
	// ClientIP is the key of the client's address (clientip.Resolver.Key);
	// "" skips the limit per client.
	ClientIP string
	// Device is the id of the browser's device cookie for this address
	// (session.Devices.ID; "" for none): such a browser signed in as the
	// address before, and counts its cooldown and its codes per hour
	// apart from the address's, so a stranger who spends the address's
	// cannot keep its owner from getting a code. The caller must have
	// checked the cookie's binding to tenant and address. The caps per
	// client IP, flow and tenant apply to it as to anyone.
	Device string
}

// Scope names which hourly cap a LimitError hit.
type Scope string

const (
	ScopeClient Scope = "client" // codes per client IP per hour
	ScopeTenant Scope = "tenant" // codes per tenant per hour
)

// LimitError is an issue's answer (PendingIssue.Result) when the
// client's or the tenant's hourly cap is reached. It is errors.Is
// ErrTooManyRequests.
type LimitError struct{ Scope Scope }

func (e *LimitError) Error() string {
	return fmt.Sprintf("otp: hourly cap of codes per %s reached", e.Scope)
}

// Is makes errors.Is(err, ErrTooManyRequests) true.
func (e *LimitError) Is(target error) bool { return target == ErrTooManyRequests }

// limitsWithDefaults fills zero limits from d: zero never means unlimited.
func (p Policy) limitsWithDefaults(d Policy) Policy {
	if p.MaxAddressesPerFlow <= 0 {
		p.MaxAddressesPerFlow = d.MaxAddressesPerFlow
	}
	if p.MaxCodesPerIPPerHour <= 0 {
		p.MaxCodesPerIPPerHour = d.MaxCodesPerIPPerHour
	}
	if p.MaxCodesPerTenantPerHour <= 0 {
		p.MaxCodesPerTenantPerHour = d.MaxCodesPerTenantPerHour
	}
	return p
}

// baseMailbox is the mailbox a canonical address reaches for the limits:
// a "+tag" suffix of the local part is dropped (user+tag@x → user@x), as
// the common mail providers deliver both to one inbox. Only limit keys
// use it; codes, records and mail keep the address as it is.
func baseMailbox(email string) string {
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return email
	}
	local, domain := email[:at], email[at:]
	plus := strings.IndexByte(local, '+')
	if plus <= 0 {
		return email // no tag: the address itself, with no copy
	}
	return local[:plus] + domain
}

// flowKey holds the addresses (their ids) a flow was sent codes for.
func (i *Issuer) flowKey(tenant, flow string) string {
	return store.Key(tenant, "otp", "flow", id(i.sum("guestpass/otp/flow-addrs/v1", tenant, flow)))
}

// clientKey counts the codes requested by one client.
func (i *Issuer) clientKey(tenant, clientIP string) string {
	return store.Key(tenant, "otp", "ip", id(i.sum("guestpass/otp/ip/v1", tenant, clientIP)))
}

// failKey is the failure budget a verification spends: the address's, or
// a trusted browser's own (device cookie) for this address.
func (i *Issuer) failKey(tenant, email, device string) string {
	if device == "" {
		return store.Key(tenant, "otp", "fail", i.addrID(tenant, email))
	}
	return store.Key(tenant, "otp", "dfail", i.deviceID(tenant, email, device))
}

// addressKeys are the resend cooldown and the hourly count of codes an
// issue checks and counts: the address's (addr, its addrID, which the
// issue needs anyway), or a trusted browser's own (device cookie) for this
// address, as with failKey.
func (i *Issuer) addressKeys(tenant, addr, email, device string) (cool, sent string) {
	if device == "" {
		return store.Key(tenant, "otp", "cool", addr), store.Key(tenant, "otp", "sent", addr)
	}
	id := i.deviceID(tenant, email, device)
	return store.Key(tenant, "otp", "dcool", id), store.Key(tenant, "otp", "dsent", id)
}

// deviceID names the counters of one trusted browser for one mailbox.
func (i *Issuer) deviceID(tenant, email, device string) string {
	return id(i.sum("guestpass/otp/device/v1", tenant, baseMailbox(email), device))
}
