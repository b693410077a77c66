// Package ldap is the ldap connector (PRODUCT.md B2): organisational
// accounts in a real directory, checked on guestpass's password page.
//
// A sign-in searches the address with the service account, on a
// connection from a small pool kept bound as that account, then binds as
// the entry found, with the typed password, on a short-lived connection of
// its own: pooled connections never change identity, and a user's bind
// can never leave one bound as someone else. Every exchange is bounded by
// the caller's deadline and the configured timeout, so a directory that
// is down or hangs answers connectors.ErrUnreachable, not a hung page.
package ldap

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"

	goldap "github.com/go-ldap/ldap/v3"
	"go.uber.org/zap"

	"github.com/guestpass/guestpass/connectors"
	"github.com/guestpass/guestpass/pkg/canon"
)

// entryUUIDAttr is the RFC 4530 identifier of an entry: stable when the
// entry is renamed, so the guest's subject survives a rename.
const entryUUIDAttr = "entryUUID"

// Connector is an ldap connector. It is a PasswordConnector and an
// io.Closer (its connection pool).
type Connector struct {
	spec connectors.Spec
	opts Options
	end  endpoint
	log  *zap.Logger
	pool *pool
	// domains are the claimed domains, canonical.
	domains connectors.Domains
	// noSuchDN is bound for an address that has no entry, so that an
	// unknown user costs the same exchanges as a wrong password.
	noSuchDN string
}

var (
	_ connectors.PasswordConnector = (*Connector)(nil)
	_ io.Closer                    = (*Connector)(nil)
)

// New is the factory (connectors.Factory): s.Options is an Options or
// *Options. It reads the CA file but does not dial: the directory is
// reached on the first sign-in.
func New(s connectors.Spec, env connectors.Env) (connectors.Connector, error) {
	o, err := connectors.OptionsOf[Options](s)
	if err != nil {
		return nil, fmt.Errorf("ldap: %w", err)
	}
	end, err := o.check()
	if err != nil {
		return nil, err
	}
	log := env.Logger
	if log == nil {
		log = zap.NewNop()
	}
	c := &Connector{
		spec:     s,
		opts:     o,
		end:      end,
		log:      log.With(zap.String("connector", s.ID), zap.String("ldapHost", end.addr)),
		noSuchDN: "cn=guestpass-no-such-user," + o.UserSearch.BaseDN,
	}
	if c.domains, err = connectors.CanonicalDomains(s.Domains); err != nil {
		return nil, err
	}
	c.pool = newPool(o.PoolSize, c.openService)
	return c, nil
}

// ID is the configured id.
func (c *Connector) ID() string { return c.spec.ID }

// Name is the configured display name.
func (c *Connector) Name() string { return c.spec.Name }

// Source is ldap:<id>.
func (c *Connector) Source() connectors.Source { return connectors.LDAP(c.spec.ID) }

// Claims reports whether the address is in the connector's domains.
func (c *Connector) Claims(canonical string) bool {
	return c.domains.Claims(canonical)
}

// Close closes the connection pool (after a reload replaced the connector).
func (c *Connector) Close() error { return c.pool.Close() }

// Login finds the entry of the address with the service account and binds
// as it with password. An unknown address, an address with several
// entries, and a wrong password all answer false with a nil error, after
// the same exchanges (no enumeration).
func (c *Connector) Login(ctx context.Context, canonical, password string) (connectors.Identity, bool, error) {
	// An empty password turns a simple bind into an unauthenticated one,
	// which many servers accept: it must never reach the directory.
	if password == "" {
		return connectors.Identity{}, false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()

	ent, err := c.find(ctx, canonical)
	if err != nil {
		return connectors.Identity{}, false, err
	}
	dn, pw := c.noSuchDN, ""
	if ent != nil {
		dn, pw = ent.DN, password
	} else if pw, err = randomPassword(); err != nil {
		return connectors.Identity{}, false, err
	}
	ok, err := c.bindAs(ctx, dn, pw)
	if err != nil || !ok || ent == nil {
		return connectors.Identity{}, false, err
	}
	return c.identity(ent, canonical), true, nil
}

// find searches the entry of the address: nil when there is none, or
// more than one, or its address attribute does not hold the address.
func (c *Connector) find(ctx context.Context, canonical string) (*goldap.Entry, error) {
	us := c.opts.UserSearch
	attrs := []string{us.EmailAttr, entryUUIDAttr}
	if us.NameAttr != "" {
		attrs = append(attrs, us.NameAttr)
	}
	req := goldap.NewSearchRequest(us.BaseDN, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases,
		2, // two are enough to know the address is ambiguous
		int(math.Ceil(c.opts.Timeout.Seconds())), false, c.filter(canonical), attrs, nil)
	var res *goldap.SearchResult
	err := c.pool.with(ctx, func(l *goldap.Conn) error {
		var err error
		res, err = l.Search(req)
		if goldap.IsErrorWithCode(err, goldap.LDAPResultSizeLimitExceeded) {
			err = nil // several entries: ambiguous, answered below
			if res == nil || len(res.Entries) < 2 {
				res = &goldap.SearchResult{Entries: make([]*goldap.Entry, 2)}
			}
		}
		return err
	})
	if err != nil {
		return nil, c.classify("search", err)
	}
	switch n := len(res.Entries); {
	case n == 0:
		return nil, nil
	case n > 1:
		// A directory mistake, not the guest's: nobody can sign in with
		// this address until an admin makes it unique.
		c.log.Warn("ldap: several entries hold this address; refusing the sign-in",
			zap.String("email", canon.MaskEmail(canonical)))
		return nil, nil
	}
	ent := res.Entries[0]
	if !c.holds(ent, canonical) {
		return nil, nil
	}
	return ent, nil
}

// filter is the configured filter ANDed with the address, escaped so that
// characters such as * ( ) \ in it match only themselves.
func (c *Connector) filter(canonical string) string {
	us := c.opts.UserSearch
	return "(&" + us.Filter + "(" + us.EmailAttr + "=" + goldap.EscapeFilter(canonical) + "))"
}

// holds reports whether the entry's address attribute has the address,
// canonically: the directory's matching rule decided the search, and it
// may be looser than ours (B10).
func (c *Connector) holds(ent *goldap.Entry, canonical string) bool {
	for _, v := range ent.GetAttributeValues(c.opts.UserSearch.EmailAttr) {
		if a, err := canon.Email(v); err == nil && a.Canonical == canonical {
			return true
		}
	}
	return false
}

// identity is what the entry establishes. The directory vouches for the
// address: it is how the entry was found.
func (c *Connector) identity(ent *goldap.Entry, canonical string) connectors.Identity {
	id := connectors.Identity{UserID: ent.DN, Email: canonical, EmailVerified: true}
	if u := ent.GetAttributeValue(entryUUIDAttr); u != "" {
		id.UserID = u
	}
	if c.opts.UserSearch.NameAttr != "" {
		id.Name = ent.GetAttributeValue(c.opts.UserSearch.NameAttr)
	}
	return id
}

// bindAs binds as dn with password on a connection of its own, closed
// afterwards. false, nil: the directory refused the credentials.
func (c *Connector) bindAs(ctx context.Context, dn, password string) (bool, error) {
	cn, err := dial(ctx, c.end)
	if err != nil {
		return false, c.classify("dial", err)
	}
	defer cn.close()
	disarm := cn.arm(ctx)
	err = cn.l.Bind(dn, password)
	disarm()
	switch {
	case err == nil:
		return true, nil
	case goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials):
		return false, nil
	case isTransport(err) || unavailable(err):
		return false, c.classify("bind", err)
	}
	// A locked or disabled account, a password that must be changed:
	// the directory said no. Its code is for the admin, not the page.
	var le *goldap.Error
	if errors.As(err, &le) {
		c.log.Info("ldap: user bind refused", zap.Uint16("resultCode", le.ResultCode))
	}
	return false, nil
}

// openService dials and binds as the service account (the pool's open).
func (c *Connector) openService(ctx context.Context) (*conn, error) {
	cn, err := dial(ctx, c.end)
	if err != nil {
		return nil, err
	}
	if c.opts.BindDN == "" {
		return cn, nil // anonymous search
	}
	disarm := cn.arm(ctx)
	err = cn.l.Bind(c.opts.BindDN, c.opts.BindPW)
	if !disarm() && err == nil {
		err = goldap.NewError(goldap.ErrorNetwork, errors.New("connection closed after the bind"))
	}
	if err != nil {
		cn.close()
		if goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials) {
			c.log.Error("ldap: the directory refused the service account; check bindDN and bindPW")
		}
		return nil, fmt.Errorf("service bind: %w", err)
	}
	return cn, nil
}

// classify wraps err as the connector error kind the login pages answer:
// the directory could not be reached (or is busy), or it answered
// something unusable (the service account refused, a bad certificate).
func (c *Connector) classify(op string, err error) error {
	kind := connectors.ErrBadResponse
	if isTransport(err) || unavailable(err) || errors.Is(err, context.DeadlineExceeded) {
		kind = connectors.ErrUnreachable
	}
	if isCertError(err) {
		kind = connectors.ErrBadResponse // not ours to trust: an admin must fix rootCA
	}
	// The login pages log the returned error with the request; this line
	// is for debugging the connector alone.
	c.log.Debug("ldap: directory exchange failed", zap.String("op", op), zap.String("error", canon.MaskAddresses(err.Error())))
	return fmt.Errorf("ldap %s at %s: %w: %w", op, c.end.addr, kind, err)
}

// unavailable reports the directory's own "try later" answers.
func unavailable(err error) bool {
	return goldap.IsErrorAnyOf(err, goldap.LDAPResultBusy, goldap.LDAPResultUnavailable,
		goldap.LDAPResultTimeLimitExceeded, goldap.LDAPResultTimeout)
}

// isCertError reports a server certificate that does not verify (LDAPS;
// go-ldap's StartTLS keeps only the text of its handshake error, which
// then counts as unreachable).
func isCertError(err error) bool {
	var (
		verr *tls.CertificateVerificationError
		uerr x509.UnknownAuthorityError
		herr x509.HostnameError
		ierr x509.CertificateInvalidError
	)
	return errors.As(err, &verr) || errors.As(err, &uerr) || errors.As(err, &herr) || errors.As(err, &ierr)
}

func randomPassword() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("ldap: random: %w", err)
	}
	return hex.EncodeToString(b), nil
}
