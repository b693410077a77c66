package main

import (
	"context"
	"path/filepath"
	"sync"
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
	proxy := ldaptest.NewProxy(t, srv.Addr)
	addr := freePort(t)
	path := filepath.Join(t.TempDir(), "c.yaml")
	writeRaw(t, path, addr, ldapTenant(proxy.Addr))
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
		if n := proxy.Open(); n < 1 {
			t.Fatalf("round %d: the pool holds no connection (%d): the test would prove nothing", round, n)
		}
		next := reload(path, cfg, deps, &root, mx, log)
		if next == nil {
			t.Fatalf("round %d: reload refused", round)
		}
		cfg = next
		eventually(t, "the replaced pool's connections closed", func() bool { return proxy.Open() == 0 })
	}
	if err := root.h.Load().Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(opened) != 4 {
		t.Fatalf("%d connectors opened, want 4 (start and 3 reloads)", len(opened))
	}
}
