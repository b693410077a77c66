package ldap_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/guestpass/guestpass/connectors"
	"github.com/guestpass/guestpass/connectors/ldap"
	"github.com/guestpass/guestpass/connectors/ldap/ldaptest"
)

// The directory every test starts from.
var users = []ldaptest.User{
	{UID: "ada", Name: "Ada Lovelace", Mail: []string{"ada@example.org"}, Password: "analytical engine"},
	{UID: "grace", Name: "Grace Hopper", Mail: []string{"Grace.Hopper@Example.ORG"}, Password: "cobol"},
	// Two entries with one address: nobody may sign in with it.
	{UID: "twin1", Name: "Twin One", Mail: []string{"twin@example.org"}, Password: "twin-one"},
	{UID: "twin2", Name: "Twin Two", Mail: []string{"twin@example.org"}, Password: "twin-two"},
	// An address with filter metacharacters: it must match only itself.
	{UID: "star", Name: "Star", Mail: []string{"ad*@example.org"}, Password: "star-pw"},
}

func options(addr string) ldap.Options {
	return ldap.Options{
		Host:          addr,
		InsecureNoSSL: true,
		BindDN:        ldaptest.BindDN,
		BindPW:        ldaptest.BindPW,
		UserSearch: ldap.UserSearch{
			BaseDN:    ldaptest.PeopleDN,
			Filter:    "(objectClass=inetOrgPerson)",
			EmailAttr: "mail",
			NameAttr:  "cn",
		},
	}
}

func open(t *testing.T, o ldap.Options) *ldap.Connector {
	t.Helper()
	c, err := ldap.New(connectors.Spec{Type: ldap.Type, ID: "corp", Name: "Example Corp", Domains: []string{"example.org"}, Options: o}, connectors.Env{})
	if err != nil {
		t.Fatal(err)
	}
	lc := c.(*ldap.Connector)
	t.Cleanup(func() { _ = lc.Close() })
	return lc
}

func TestLogin(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{Users: users})
	c := open(t, options(srv.Addr))
	if c.Source() != "ldap:corp" || !c.Claims("x@example.org") || c.Claims("x@example.com") {
		t.Fatalf("source %q or claims wrong", c.Source())
	}
	cases := []struct {
		name, addr, password string
		ok                   bool
		wantName             string
	}{
		{"right password", "ada@example.org", "analytical engine", true, "Ada Lovelace"},
		{"wrong password", "ada@example.org", "difference engine", false, ""},
		{"unknown user", "nobody@example.org", "analytical engine", false, ""},
		{"address in another case in the directory", "grace.hopper@example.org", "cobol", true, "Grace Hopper"},
		{"two entries, right password of one", "twin@example.org", "twin-one", false, ""},
		{"metacharacters match only themselves", "ad*@example.org", "star-pw", true, "Star"},
		{"a wildcard address matches nobody", "*@example.org", "analytical engine", false, ""},
		{"filter injection", "x*)(uid=*@example.org", "analytical engine", false, ""},
		{"filter injection closing the AND", "*))(|(uid=*@example.org", "star-pw", false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, ok, err := c.Login(t.Context(), tc.addr, tc.password)
			if err != nil || ok != tc.ok {
				t.Fatalf("Login = %v, %v; want %v, nil", ok, err, tc.ok)
			}
			if !ok {
				if id != (connectors.Identity{}) {
					t.Errorf("identity %+v with a refused sign-in", id)
				}
				return
			}
			if id.Email != tc.addr || !id.EmailVerified || id.Name != tc.wantName {
				t.Errorf("identity %+v", id)
			}
			// entryUUID, not the DN: it survives a rename.
			if len(id.UserID) != 36 || strings.Contains(id.UserID, "=") {
				t.Errorf("UserID %q is not the entryUUID", id.UserID)
			}
		})
	}
	// The subject is stable across sign-ins and differs between users.
	a1, _, _ := c.Login(t.Context(), "ada@example.org", "analytical engine")
	a2, _, _ := c.Login(t.Context(), "ada@example.org", "analytical engine")
	g, _, _ := c.Login(t.Context(), "grace.hopper@example.org", "cobol")
	if a1.UserID != a2.UserID || a1.UserID == g.UserID {
		t.Errorf("subjects %q %q %q", a1.UserID, a2.UserID, g.UserID)
	}
}

// An empty password never reaches the directory (an unauthenticated bind
// succeeds on many servers): with the directory down it is still just a
// wrong password, while any other password finds the directory down.
func TestEmptyPasswordNeverSent(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{Users: users})
	p := ldaptest.NewProxy(t, srv.Addr)
	c := open(t, options(p.Addr))
	if _, ok, err := c.Login(t.Context(), "ada@example.org", ""); ok || err != nil {
		t.Fatalf("empty password: %v, %v", ok, err)
	}
	if n := p.Accepted(); n != 0 {
		t.Fatalf("an empty password opened %d connections to the directory", n)
	}
	if _, ok, err := c.Login(t.Context(), "ada@example.org", "analytical engine"); !ok || err != nil {
		t.Fatalf("right password: %v, %v", ok, err)
	}
}

// The directory goes down: sign-ins answer ErrUnreachable (not a wrong
// password, not a hang), and succeed again once it is back, although the
// pool still holds connections to the dead server.
func TestDirectoryDownAndBack(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{Users: users})
	c := open(t, options(srv.Addr))
	login := func() (bool, error) {
		_, ok, err := c.Login(t.Context(), "ada@example.org", "analytical engine")
		return ok, err
	}
	if ok, err := login(); !ok || err != nil {
		t.Fatalf("before: %v, %v", ok, err)
	}
	srv.Stop()
	for _, pw := range []string{"analytical engine", "wrong"} {
		_, ok, err := c.Login(t.Context(), "ada@example.org", pw)
		if ok || !errors.Is(err, connectors.ErrUnreachable) {
			t.Fatalf("directory down, password %q: %v, %v; want ErrUnreachable", pw, ok, err)
		}
	}
	srv.Restart()
	if ok, err := login(); !ok || err != nil {
		t.Fatalf("after restart: %v, %v", ok, err)
	}
}

// A pooled connection that died unnoticed (dropped by a middlebox) fails
// when used; the sign-in then runs on a fresh connection instead of
// failing.
func TestStalePooledConnection(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{Users: users})
	p := ldaptest.NewProxy(t, srv.Addr)
	c := open(t, options(p.Addr))
	for i := range 2 {
		if _, ok, err := c.Login(t.Context(), "ada@example.org", "analytical engine"); !ok || err != nil {
			t.Fatalf("sign-in %d: %v, %v", i, ok, err)
		}
		p.Forget()
	}
}

// A directory that accepts connections but never answers: the sign-in
// ends at its deadline with ErrUnreachable instead of hanging.
func TestDirectoryHangs(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			cn, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, cn) // read nothing, answer nothing
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		for _, cn := range held {
			cn.Close()
		}
		mu.Unlock()
	}()
	for _, tc := range []struct {
		name     string
		timeout  time.Duration // the connector's
		deadline bool          // the caller's context has a 300ms deadline
	}{
		{"timeout option", 300 * time.Millisecond, false},
		{"caller's deadline", time.Minute, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := options(l.Addr().String())
			o.Timeout = tc.timeout
			c := open(t, o)
			// Without a deadline the caller still gives up after 30 s,
			// by cancelling, so that a broken timeout fails the test
			// rather than hanging it.
			ctx, cancel := context.WithCancel(t.Context())
			if tc.deadline {
				ctx, cancel = context.WithTimeout(t.Context(), 300*time.Millisecond)
			}
			defer cancel()
			stop := time.AfterFunc(30*time.Second, cancel)
			defer stop.Stop()
			_, ok, err := c.Login(ctx, "ada@example.org", "analytical engine")
			if ok || !errors.Is(err, connectors.ErrUnreachable) {
				t.Fatalf("Login = %v, %v; want ErrUnreachable", ok, err)
			}
			if !tc.deadline && ctx.Err() != nil {
				t.Errorf("the caller gave up, not the connector's timeout")
			}
		})
	}
}

// Service-bound connections are pooled: many sign-ins reuse at most
// PoolSize of them, while each user bind has a connection of its own.
func TestPool(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{Users: users})
	p := ldaptest.NewProxy(t, srv.Addr)
	o := options(p.Addr)
	o.PoolSize = 2
	c := open(t, o)
	const logins = 12
	var wg sync.WaitGroup
	var failed atomic.Int32
	for i := range logins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pw := "analytical engine"
			if i%2 == 1 {
				pw = "wrong"
			}
			if _, ok, err := c.Login(t.Context(), "ada@example.org", pw); err != nil || ok != (i%2 == 0) {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d sign-ins failed", failed.Load())
	}
	// logins user binds, one connection each, plus at most PoolSize
	// service connections.
	if n := p.Accepted(); n > logins+2 || n < logins+1 {
		t.Errorf("%d connections for %d sign-ins with a pool of 2", n, logins)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Login(t.Context(), "ada@example.org", "analytical engine"); !errors.Is(err, connectors.ErrUnreachable) {
		t.Errorf("after Close: %v", err)
	}
}

// A wrong password and an unknown user cost the same exchanges with the
// directory (a bind on a connection of its own), so their timing does not
// tell which it was.
func TestUnknownUserCostsABind(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{Users: users})
	p := ldaptest.NewProxy(t, srv.Addr)
	c := open(t, options(p.Addr))
	if _, ok, err := c.Login(t.Context(), "ada@example.org", "wrong"); ok || err != nil {
		t.Fatal(ok, err)
	}
	wrong := p.Accepted() // a service connection and a bind connection
	if _, ok, err := c.Login(t.Context(), "nobody@example.org", "wrong"); ok || err != nil {
		t.Fatal(ok, err)
	}
	if unknown := p.Accepted() - wrong; unknown != 1 {
		t.Errorf("an unknown user opened %d bind connections; a wrong password opens 1", unknown)
	}
}

func TestTLS(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{Users: users, TLS: true})
	other := ldaptest.Start(t, ldaptest.Options{TLS: true}) // its CA is not srv's
	cases := []struct {
		name string
		edit func(*ldap.Options)
		ok   bool
		kind error
	}{
		{"StartTLS, rootCAData", func(o *ldap.Options) {
			o.Host, o.InsecureNoSSL, o.StartTLS, o.RootCAData = srv.Addr, false, true, srv.CAPEM
		}, true, nil},
		{"LDAPS, rootCA file", func(o *ldap.Options) {
			o.Host, o.InsecureNoSSL, o.RootCA = srv.LDAPSAddr, false, srv.CAFile
		}, true, nil},
		{"ldaps:// URL", func(o *ldap.Options) {
			o.Host, o.InsecureNoSSL, o.RootCA = "ldaps://"+srv.LDAPSAddr, false, srv.CAFile
		}, true, nil},
		{"LDAPS, another CA", func(o *ldap.Options) {
			o.Host, o.InsecureNoSSL, o.RootCAData = srv.LDAPSAddr, false, other.CAPEM
		}, false, connectors.ErrBadResponse},
		{"StartTLS, another CA", func(o *ldap.Options) {
			o.Host, o.InsecureNoSSL, o.StartTLS, o.RootCAData = srv.Addr, false, true, other.CAPEM
		}, false, connectors.ErrUnreachable},
		{"LDAPS, system roots", func(o *ldap.Options) {
			o.Host, o.InsecureNoSSL = srv.LDAPSAddr, false
		}, false, connectors.ErrBadResponse},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := options("")
			tc.edit(&o)
			c := open(t, o)
			id, ok, err := c.Login(t.Context(), "ada@example.org", "analytical engine")
			if ok != tc.ok || (tc.kind == nil) != (err == nil) || (tc.kind != nil && !errors.Is(err, tc.kind)) {
				t.Fatalf("Login = %v, %v; want %v, %v", ok, err, tc.ok, tc.kind)
			}
			if ok && id.Name != "Ada Lovelace" {
				t.Errorf("identity %+v", id)
			}
		})
	}
}

func TestOptionsRefused(t *testing.T) {
	cases := []struct {
		name string
		edit func(*ldap.Options)
		want string
	}{
		{"no baseDN", func(o *ldap.Options) { o.UserSearch.BaseDN = "" }, "userSearch.baseDN is required"},
		{"bad baseDN", func(o *ldap.Options) { o.UserSearch.BaseDN = "not a dn" }, "is not a DN"},
		{"no emailAttr", func(o *ldap.Options) { o.UserSearch.EmailAttr = "" }, "userSearch.emailAttr"},
		{"bad nameAttr", func(o *ldap.Options) { o.UserSearch.NameAttr = "c n" }, "userSearch.nameAttr"},
		{"bad filter", func(o *ldap.Options) { o.UserSearch.Filter = "objectClass=person" }, "userSearch.filter"},
		{"bindDN without bindPW", func(o *ldap.Options) { o.BindPW = "" }, "bindPW is empty"},
		{"both TLS modes", func(o *ldap.Options) { o.StartTLS = true }, "exclude each other"},
		{"plain URL without a mode", func(o *ldap.Options) { o.Host, o.InsecureNoSSL = "ldap://h:389", false }, "set startTLS"},
		{"ldaps URL with StartTLS", func(o *ldap.Options) { o.Host, o.InsecureNoSSL, o.StartTLS = "ldaps://h", false, true }, "is LDAPS"},
		{"other scheme", func(o *ldap.Options) { o.Host = "http://h" }, "neither ldap nor ldaps"},
		{"unreadable rootCA", func(o *ldap.Options) { o.Host, o.InsecureNoSSL, o.RootCA = "h", false, "/nonexistent/ca.pem" }, "rootCA"},
		{"rootCAData not PEM", func(o *ldap.Options) { o.Host, o.InsecureNoSSL, o.RootCAData = "h", false, []byte("x") }, "rootCAData"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := options("127.0.0.1:389")
			tc.edit(&o)
			_, err := ldap.New(connectors.Spec{Type: ldap.Type, ID: "corp", Options: o}, connectors.Env{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v; want an error with %q", err, tc.want)
			}
		})
	}
	if _, err := ldap.New(connectors.Spec{Type: ldap.Type, ID: "corp"}, connectors.Env{}); err == nil {
		t.Error("no options accepted")
	}
}
