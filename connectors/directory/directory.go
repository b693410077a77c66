// Package directory is the static directory connector (PRODUCT.md B2,
// type "directory"): organisational accounts listed in the config with
// bcrypt or argon2id password hashes, checked on guestpass's own password
// page. Its users are members of the tenant (no invitation needed).
package directory

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	"github.com/guestpass/guestpass/connectors"
	"github.com/guestpass/guestpass/pkg/canon"
	"github.com/guestpass/guestpass/pkg/passhash"
)

// Type is the connector type in the config.
const Type = "directory"

// User is one configured account.
type User struct {
	Email        string
	Name         string
	PasswordHash string
}

// Options are the directory type's own settings (Spec.Options).
type Options struct {
	Users []User
	// Verify checks a password against a hash; nil is the real check
	// (passhash.Hash.Verify). Tests count calls through it to prove that
	// an unknown user is checked against the dummy hash too.
	Verify func(h passhash.Hash, password string) bool
	// MaxConcurrent bounds the verifications running at once; 0 is
	// twice GOMAXPROCS. Each argon2id check holds its m (64 MiB by
	// default) while it runs, so a burst of sign-ins must queue rather
	// than take the server's memory.
	MaxConcurrent int
}

// account is a user ready for sign-in.
type account struct {
	email string // canonical
	name  string
	hash  passhash.Hash
}

// Connector is the static directory. It is read-only after New.
type Connector struct {
	spec     connectors.Spec
	domains  connectors.Domains
	accounts map[string]account
	dummy    passhash.Hash
	verify   func(passhash.Hash, string) bool
	slots    chan struct{} // a token per verification allowed to run
}

var _ connectors.PasswordConnector = (*Connector)(nil)

// New is the factory (connectors.Factory): it parses the users and their
// hashes, and refuses what the config validation also refuses, so a
// connector built in code without the validator is no weaker.
func New(s connectors.Spec, _ connectors.Env) (connectors.Connector, error) {
	o, err := connectors.OptionsOf[Options](s)
	if err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	c := &Connector{spec: s, accounts: make(map[string]account, len(o.Users)), verify: o.Verify}
	if c.verify == nil {
		c.verify = passhash.Hash.Verify
	}
	n := o.MaxConcurrent
	if n <= 0 {
		n = 2 * runtime.GOMAXPROCS(0)
	}
	c.slots = make(chan struct{}, n)
	if c.domains, err = connectors.CanonicalDomains(s.Domains); err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	if len(o.Users) == 0 {
		return nil, errors.New("directory: no users")
	}
	hashes := make([]passhash.Hash, 0, len(o.Users))
	for k, u := range o.Users {
		a, err := c.account(u)
		if err != nil {
			return nil, fmt.Errorf("directory: users[%d]: %w", k, err)
		}
		c.accounts[a.email] = a
		hashes = append(hashes, a.hash)
	}
	c.dummy = dummyOf(hashes)
	return c, nil
}

func (c *Connector) account(u User) (account, error) {
	addr, err := canon.Email(u.Email)
	if err != nil {
		return account{}, fmt.Errorf("email: %w", err)
	}
	if !c.Claims(addr.Canonical) {
		return account{}, errors.New("email is outside the connector's domains")
	}
	if _, dup := c.accounts[addr.Canonical]; dup {
		return account{}, errors.New("email is listed twice")
	}
	h, err := passhash.Parse(u.PasswordHash)
	if err != nil {
		return account{}, fmt.Errorf("passwordHash: %w", err)
	}
	return account{email: addr.Canonical, name: u.Name, hash: h}, nil
}

// dummyOf is the hash an unknown user is checked against: the dummy of the
// cost most users have (the first user's on a tie), so that the failure
// path for an unknown address costs what a typical known one costs.
func dummyOf(hashes []passhash.Hash) passhash.Hash {
	count := map[string]int{}
	best := hashes[0]
	for _, h := range hashes {
		count[h.Params()]++
		if count[h.Params()] > count[best.Params()] {
			best = h
		}
	}
	return best.Dummy()
}

// ID is the configured id.
func (c *Connector) ID() string { return c.spec.ID }

// Name is the configured display name.
func (c *Connector) Name() string { return c.spec.Name }

// Source is "directory:<id>".
func (c *Connector) Source() connectors.Source { return connectors.Directory(c.spec.ID) }

// Claims reports whether the canonical address is in one of the domains,
// whether or not it is a listed user: an unknown user of a claimed domain
// gets the password page like a known one (no enumeration).
func (c *Connector) Claims(canonical string) bool {
	return c.domains.Claims(canonical)
}

// Login checks the password. An unknown address is checked against the
// dummy hash, so it costs one verification of the same cost as a known
// address with a wrong password, and answers the same.
//
// Verifications wait for a free slot (MaxConcurrent); one that cannot start
// before ctx ends is ErrUnreachable: the directory is too busy to answer.
func (c *Connector) Login(ctx context.Context, canonical, password string) (connectors.Identity, bool, error) {
	a, known := c.accounts[canonical]
	h := a.hash
	if !known {
		h = c.dummy
	}
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return connectors.Identity{}, false, fmt.Errorf("directory %s: too many password checks at once: %w (%v)", c.spec.ID, connectors.ErrUnreachable, ctx.Err())
	}
	ok := c.verify(h, password)
	<-c.slots
	if !ok || !known {
		return connectors.Identity{}, false, nil
	}
	return connectors.Identity{
		// Stable across renames of the display name; the address is the
		// account's key in a static directory.
		UserID:        "directory:" + c.spec.ID + ":" + a.email,
		Email:         a.email,
		EmailVerified: true, // the admin who listed the account vouches for it
		Name:          a.name,
	}, true, nil
}
