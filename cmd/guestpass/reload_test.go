package main

import (
	"context"
	"io"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/zap"

	"github.com/guestpass/guestpass/connectors"
	"github.com/guestpass/guestpass/connectors/ldap"
	"github.com/guestpass/guestpass/connectors/ldap/ldaptest"
	"github.com/guestpass/guestpass/pkg/config"
	"github.com/guestpass/guestpass/pkg/mail"
	"github.com/guestpass/guestpass/pkg/metrics"
	"github.com/guestpass/guestpass/pkg/store/memory"
	"github.com/guestpass/guestpass/provider/server"
)

// connCounter forwards TCP connections to target and counts those open:
// an LDAP pool's connections are visible here until the pool closes them.
type connCounter struct {
	addr string
	open atomic.Int32
}

func newConnCounter(t *testing.T, target string) *connCounter {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &connCounter{addr: l.Addr().String()}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns { // a leaked pool's connections too
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, in, out)
			mu.Unlock()
			c.open.Add(1)
			wg.Add(2)
			go func() { // the client's side: it ends when the client closes
				defer wg.Done()
				_, _ = io.Copy(out, in)
				out.Close()
				c.open.Add(-1)
			}()
			go func() { defer wg.Done(); _, _ = io.Copy(in, out); in.Close() }()
		}
	}()
	return c
}

func ldapTenant(host string) string {
	return `  - id: alpha
    clients: [{id: app, secret: s, redirectURIs: ["http://127.0.0.1:9/cb"]}]
    connectors:
      - type: ldap
        id: corp
        domains: [example.org]
        host: ` + host + `
        insecureNoSSL: true
        bindDN: "` + ldaptest.BindDN + `"
        bindPW: "` + ldaptest.BindPW + `"
        userSearch: {baseDN: "` + ldaptest.PeopleDN + `", filter: "(objectClass=inetOrgPerson)", emailAttr: mail, nameAttr: cn}
`
}

// A reload replaces every tenant's connectors; the replaced ldap
// connector's pooled connections must be closed, not leaked one set per
// SIGHUP. Each round signs in through the running connector (its pool
// opens a connection to a private slapd, counted by a proxy), reloads,
// and waits for the count to fall back to zero.
func TestReloadClosesReplacedLDAPPools(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{Users: []ldaptest.User{
		{UID: "ada", Name: "Ada Lovelace", Mail: []string{"ada@example.org"}, Password: "analytical engine"},
	}})
	proxy := newConnCounter(t, srv.Addr)
	addr := freePort(t)
	path := filepath.Join(t.TempDir(), "c.yaml")
	writeRaw(t, path, addr, ldapTenant(proxy.addr))
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}

	// The production ldap factory, wrapped to hand the test each
	// connector it opens, so that the test can sign in through it.
	var mu sync.Mutex
	var opened []*ldap.Connector
	reg := connectors.NewRegistry().Register(ldap.Type, func(s connectors.Spec, env connectors.Env) (connectors.Connector, error) {
		c, err := ldap.New(s, env)
		if err == nil {
			mu.Lock()
			opened = append(opened, c.(*ldap.Connector))
			mu.Unlock()
		}
		return c, err
	})
	latest := func() *ldap.Connector { mu.Lock(); defer mu.Unlock(); return opened[len(opened)-1] }

	log := zap.NewNop()
	m := metrics.New()
	st := memory.New(nil)
	defer st.Close()
	disp := mail.NewDispatcher(&mail.LogTransport{Logger: log}, cfg.Mail.From, mail.DispatcherOptions{Workers: 1, QueueSize: 1})
	defer func() { _ = disp.Close(context.Background()) }()
	deps := server.Deps{Config: cfg, Store: st, Mailer: disp, Logger: log, Metrics: m, Connectors: reg}
	h, err := server.Build(deps)
	if err != nil {
		t.Fatal(err)
	}
	var root swapHandler
	root.set(h)
	mx := newMetricsServer(m, log)
	defer mx.close()

	for round := range 3 {
		if _, ok, err := latest().Login(context.Background(), "ada@example.org", "analytical engine"); err != nil || !ok {
			t.Fatalf("round %d: sign-in through the running connector: %v %v", round, ok, err)
		}
		if n := proxy.open.Load(); n < 1 {
			t.Fatalf("round %d: the pool holds no connection (%d): the test would prove nothing", round, n)
		}
		next := reload(path, cfg, deps, &root, mx, log)
		if next == nil {
			t.Fatalf("round %d: reload refused", round)
		}
		cfg = next
		eventually(t, "the replaced pool's connections closed", func() bool { return proxy.open.Load() == 0 })
	}
	if err := root.h.Load().Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(opened) != 4 {
		t.Fatalf("%d connectors opened, want 4 (start and 3 reloads)", len(opened))
	}
}
