package connectors

import (
	"context"
	"fmt"
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

// Resolve picks the method for an address (B2). source is the guest's
// recorded source ("" for a new or reset guest). Only a Toggled member that
// is reached is asked whether it is on.
func (c *Chain) Resolve(ctx context.Context, canonical string, source Source) (Method, error) {
	if source != "" {
		return c.sticky(ctx, source)
	}
	for _, k := range c.list {
		if !k.Claims(canonical) {
			continue
		}
		on, err := enabled(ctx, k)
		if err != nil {
			return Method{}, err
		}
		if on {
			return Method{Kind: KindConnector, Connector: k}, nil
		}
	}
	return Method{Kind: KindNone}, nil
}

// sticky keeps a redeemed guest on their source (B2 step 2), even when
// another member would now claim the address.
func (c *Chain) sticky(ctx context.Context, source Source) (Method, error) {
	k := c.BySource(source)
	if k == nil {
		// The connector was removed from the config: no silent downgrade
		// to passcodes (a federated guest must not fall back).
		return Method{Kind: KindNone}, nil
	}
	on, err := enabled(ctx, k)
	if err != nil {
		return Method{}, err
	}
	if !on {
		return Method{Kind: KindDisabled, Connector: k}, nil
	}
	return Method{Kind: KindConnector, Connector: k}, nil
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
