package connectors

import (
	"context"
	"fmt"

	"github.com/guestpass/guestpass/pkg/store"
)

// Kind is the chain's verdict.
type Kind int

const (
	// KindNone: no method is available for the address (B2 step 5).
	KindNone Kind = iota
	// KindConnector: Method.Connector authenticates the address.
	KindConnector
	// KindDisabled: the guest is bound to Method.Connector, which is
	// turned off (a passcode guest while passcodes are off, B5).
	KindDisabled
)

// Method is the chain's answer.
type Method struct {
	Kind      Kind
	Connector Connector
}

// Chain is a tenant's connectors in configured order, the email passcode
// last: the first member that claims an address wins.
type Chain struct {
	list []Connector
}

// NewChain keeps the order given.
func NewChain(list ...Connector) *Chain { return &Chain{list: list} }

// ResolveWith picks the method for an address (B2). source is the guest's
// recorded source ("" for a new or reset guest). on is what the step read
// of its members' switches in its batch (ReadToggles): a member found in on
// is not asked again, so resolving costs no round trip of its own; any
// other Toggled member is asked only when reached.
func (c *Chain) ResolveWith(ctx context.Context, canonical string, source Source, on Toggles) (Method, error) {
	if source != "" {
		return c.sticky(ctx, source, on)
	}
	for _, k := range c.list {
		if !k.Claims(canonical) {
			continue
		}
		ok, err := on.Enabled(ctx, k)
		if err != nil {
			return Method{}, err
		}
		if ok {
			return Method{Kind: KindConnector, Connector: k}, nil
		}
	}
	return Method{Kind: KindNone}, nil
}

// sticky keeps a redeemed guest on their source (B2 step 2), even when
// another member would now claim the address.
func (c *Chain) sticky(ctx context.Context, source Source, on Toggles) (Method, error) {
	k := c.BySource(source)
	if k == nil {
		// The connector was removed from the config: no silent downgrade
		// to passcodes (a federated guest must not fall back).
		return Method{Kind: KindNone}, nil
	}
	ok, err := on.Enabled(ctx, k)
	if err != nil {
		return Method{}, err
	}
	if !ok {
		return Method{Kind: KindDisabled, Connector: k}, nil
	}
	return Method{Kind: KindConnector, Connector: k}, nil
}

// Toggles is whether Toggled members are on, by connector id, as a step
// read them in its batch (ReadToggles).
type Toggles map[string]bool

// Enabled is whether k is on: as read, else asked (a member that is not
// Toggled always is).
func (t Toggles) Enabled(ctx context.Context, k Connector) (bool, error) {
	if on, ok := t[k.ID()]; ok {
		return on, nil
	}
	return enabled(ctx, k)
}

// ToggleReads are the reads of the chain's BatchToggled switches, for a
// step's batch.
type ToggleReads map[string]*store.Read[bool]

// ReadToggles is the read of every member's switch that can be read in a
// batch (BatchToggled); the others are asked when reached.
func (c *Chain) ReadToggles() ToggleReads {
	reads := ToggleReads{}
	if c == nil {
		return reads
	}
	for _, k := range c.list {
		if b, ok := k.(BatchToggled); ok {
			reads[k.ID()] = b.ReadEnabled()
		}
	}
	return reads
}

// Ops are the reads' ops, for store.Batch.
func (r ToggleReads) Ops() []*store.Op {
	ops := make([]*store.Op, 0, len(r))
	for _, rd := range r {
		ops = append(ops, rd.Op())
	}
	return ops
}

// Result is the switches once the batch has run.
func (r ToggleReads) Result() (Toggles, error) {
	on := make(Toggles, len(r))
	for id, rd := range r {
		v, err := rd.Result()
		if err != nil {
			return nil, fmt.Errorf("connector %s: %w", id, err)
		}
		on[id] = v
	}
	return on, nil
}

// BySource is the member that records source, or nil.
func (c *Chain) BySource(source Source) Connector {
	for _, k := range c.list {
		if k.Source() == source {
			return k
		}
	}
	return nil
}

// ByID is the member with the configured id, or nil (the upstream
// callback's state names the connector by id).
func (c *Chain) ByID(id string) Connector {
	for _, k := range c.list {
		if k.ID() == id {
			return k
		}
	}
	return nil
}

// enabled asks a Toggled connector whether it is on; others always are.
func enabled(ctx context.Context, k Connector) (bool, error) {
	t, ok := k.(Toggled)
	if !ok {
		return true, nil
	}
	on, err := t.Enabled(ctx)
	if err != nil {
		return false, fmt.Errorf("connector %s: %w", k.ID(), err)
	}
	return on, nil
}
