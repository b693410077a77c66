package server_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/guestpass/guestpass/connectors"
	"github.com/guestpass/guestpass/pkg/config"
	"github.com/guestpass/guestpass/pkg/mail"
	"github.com/guestpass/guestpass/pkg/mail/mailtest"
	"github.com/guestpass/guestpass/pkg/metrics"
	"github.com/guestpass/guestpass/pkg/store"
	"github.com/guestpass/guestpass/pkg/store/memory"
	"github.com/guestpass/guestpass/pkg/store/redisstore"
	"github.com/guestpass/guestpass/pkg/store/redistest"
	"github.com/guestpass/guestpass/pkg/store/storetest"
	"github.com/guestpass/guestpass/provider/server"
)

// The relying party's redirect URI: nothing listens there; the test stops
// at the redirect and reads the code from it, as an RP would.
const (
	rpCallback = "http://127.0.0.1:9/callback"
	rpHome     = "http://127.0.0.1:9/"
)

// testConfig has two tenants: fabrikam (invitation only) and contoso
// (self-service sign-up).
const testConfig = `
baseURL: %s
listen: 127.0.0.1:8080
# Every test client is 127.0.0.1, and benchmarks sign in thousands of
# times a minute: TestAuthorizeRateLimit sets the real limit.
authorizePerIPPerMinute: 1000000
log: {level: debug, format: json}
store: {type: memory}
secrets:
  cookieHashKey: %s
  cookieBlockKey: %s
  codeKey: %s
mail:
  from: "guestpass <no-reply@guestpass.example>"
  driver: smtp
  smtp: {addr: "%s", tls: none, poolSize: 2}
tenants:
  - id: fabrikam
    displayName: Fabrikam
    domains: [fabrikam.example]
    emailOTP: {enabled: true}
    clients:
      - id: portal
        name: Fabrikam Portal
        secret: portal-secret
        redirectURIs: ["` + rpCallback + `"]
        postLogoutRedirectURIs: ["` + rpHome + `"]
        homeURL: "` + rpHome + `"
      - id: spa
        name: Fabrikam SPA
        redirectURIs: ["` + rpCallback + `"]
        allowedOrigins: ["http://127.0.0.1:9"]
      - id: admin
        name: Fabrikam admin
        secret: admin-secret
        redirectURIs: ["` + rpCallback + `"]
        admin: true
  - id: contoso
    displayName: Contoso
    selfServiceSignUp: true
    clients:
      - id: portal
        name: Contoso Portal
        secret: contoso-secret
        redirectURIs: ["` + rpCallback + `"]
      - id: admin
        secret: contoso-admin-secret
        redirectURIs: ["` + rpCallback + `"]
        admin: true
`

func secret(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

type env struct {
	t      testing.TB
	base   string
	cfg    *config.Config
	smtp   *mailtest.Server
	redis  *redistest.Server
	store  store.Store
	logs   *observer.ObservedLogs
	clock  *storetest.Clock
	secret [3]string
	// handler is the built root handler, for benchmarks that measure the
	// server's own work without a network client's.
	handler http.Handler

	// metrics is the base URL of the metrics listener (config
	// metrics.listen), which is not the public one.
	metrics string
}

type envOptions struct {
	redis *redistest.Server // nil: memory store (unless cluster)
	// cluster, when set, is a Redis Cluster's node addresses.
	cluster []string
	// prefix shares a Redis keyspace between servers (several replicas).
	prefix  string
	secrets *[3]string
	smtp    *mailtest.Server
	// templatesDir, when set, replaces the embedded templates.
	templatesDir string
	// configure, when set, edits the parsed config before the server is
	// built (limits, trusted proxies).
	configure func(*config.Config)
	// mailQueue, when set, is the mail queue's size per tenant.
	mailQueue int
	// outbox, when set, keeps the mail queue in the env's store, as serve
	// does (with Redis: the durable outbox); otherwise a private memory
	// one, whose polling no round-trip count sees.
	outbox bool
	// connectors, when set, opens the tenants' connectors (the mocks).
	connectors *connectors.Registry
	// upstreamTimeout, when set, bounds each connector call.
	upstreamTimeout time.Duration
	// logger, when set, replaces the observed debug logger (e.logs is
	// then nil): benchmarks log as a production process does.
	logger *zap.Logger
	// wrapStore, when set, wraps the env's store before the server is
	// built (faults on chosen keys).
	wrapStore func(store.Store) store.Store
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	// The listener exists before the handler: the config's baseURL is
	// its address.
	srv := httptest.NewUnstartedServer(nil)
	e := &env{t: t, base: "http://" + srv.Listener.Addr().String(), clock: storetest.NewWallClock(), redis: o.redis}
	if o.secrets != nil {
		e.secret = *o.secrets
	} else {
		e.secret = [3]string{secret(64), secret(32), secret(32)}
	}
	e.smtp = o.smtp
	if e.smtp == nil {
		e.smtp = mailtest.Start(t)
	}
	yaml := fmt.Sprintf(testConfig, e.base, e.secret[0], e.secret[1], e.secret[2], e.smtp.Addr)
	if o.templatesDir != "" {
		yaml += "templatesDir: " + o.templatesDir + "\n"
	}
	cfg, err := config.Parse([]byte(yaml), "test.yaml", func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if o.configure != nil {
		o.configure(cfg)
	}
	e.cfg = cfg
	if o.redis != nil || o.cluster != nil {
		prefix := o.prefix
		if prefix == "" {
			prefix = redistest.KeyPrefix(t)
		}
		addrs := o.cluster
		if o.redis != nil {
			addrs = []string{o.redis.Addr}
		}
		rs, err := redisstore.New(redisstore.Options{Addrs: addrs, KeyPrefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		e.store = rs
	} else {
		e.store = memory.New(e.clock.Now)
	}
	if o.wrapStore != nil {
		e.store = o.wrapStore(e.store)
	}
	t.Cleanup(func() { _ = e.store.Close() })

	log := o.logger
	if log == nil {
		core, logs := observer.New(zapcore.DebugLevel)
		e.logs = logs
		log = zap.New(core)
	}
	m := metrics.New()
	tr, err := mail.NewSMTP(server.SMTPOptions(cfg.Mail.SMTP), cfg.Mail.From)
	if err != nil {
		t.Fatal(err)
	}
	queue := 100
	if o.mailQueue > 0 {
		queue = o.mailQueue
	}
	var outbox store.Store
	if o.outbox {
		outbox = e.store
	}
	disp := mail.NewDispatcher(tr, cfg.Mail.From, mail.DispatcherOptions{
		Workers: 2, QueueSize: queue, Retries: 2, Backoff: 10 * time.Millisecond, Logger: log, Metrics: m, Store: outbox})
	h, err := server.Build(server.Deps{Config: cfg, Store: e.store, Mailer: disp, Logger: log, Metrics: m, Clock: e.clock.Now,
		Connectors: o.connectors, UpstreamTimeout: o.upstreamTimeout})
	if err != nil {
		t.Fatal(err)
	}
	// No ReadHeaderTimeout: nothing here waits for a silent client, and
	// TestHarnessClosesUnusedConnections relies on no timeout closing
	// what the cleanup must close.
	srv.Config.Handler = h
	e.handler = h
	srv.Start()
	msrv := httptest.NewServer(server.NewMetricsHandler(m, cfg.Metrics))
	e.metrics = msrv.URL
	t.Cleanup(func() {
		// httptest's Close, unlike http.Server.Shutdown, closes at once
		// the connections a client opened but never used (Shutdown waits
		// up to 5 s for those), and waits only for requests in flight.
		srv.Close()
		msrv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = disp.Close(ctx)
		_ = tr.Close()
		_ = h.Close(ctx) // the connectors' pools, as serve does at shutdown
	})
	return e
}

func (e *env) issuer(tenant string) string { return e.base + "/" + tenant }

// browser is a cookie-keeping HTTP client that follows redirects by hand,
// stopping at the relying party's callback.
type browser struct {
	t    testing.TB
	c    *http.Client
	lang string
}

func newBrowser(t testing.TB) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, c: &http.Client{
		Jar:           jar,
		Timeout:       15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type page struct {
	status int
	url    string
	header http.Header
	body   string
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	if b.lang != "" {
		req.Header.Set("Accept-Language", b.lang)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, url: req.URL.String(), header: resp.Header, body: string(body)}
}

func (b *browser) get(u string) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return b.follow(b.do(req))
}

func (b *browser) post(u string, form url.Values) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.follow(b.do(req))
}

// follow follows redirects until a page, or until the app's callback.
func (b *browser) follow(p page) page {
	b.t.Helper()
	for i := 0; i < 10 && p.status >= 300 && p.status < 400; i++ {
		loc, err := url.Parse(p.url)
		if err != nil {
			b.t.Fatal(err)
		}
		next := loc.ResolveReference(mustURL(b.t, p.header.Get("Location"))).String()
		if strings.HasPrefix(next, rpCallback) || strings.HasPrefix(next, rpHome) {
			return page{status: p.status, url: next, header: p.header}
		}
		req, _ := http.NewRequest(http.MethodGet, next, nil)
		p = b.do(req)
	}
	return p
}

func mustURL(t testing.TB, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

var (
	formRe = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
	csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
)

// form returns the action of the page's n-th POST form and its CSRF token.
func (p page) form(t testing.TB, n int) (string, string) {
	t.Helper()
	fs := formRe.FindAllStringSubmatch(p.body, -1)
	cs := csrfRe.FindStringSubmatch(p.body)
	if len(fs) <= n || cs == nil {
		t.Fatalf("page %s (%d) has no form %d:\n%s", p.url, p.status, n, p.body)
	}
	base := mustURL(t, p.url)
	return base.ResolveReference(mustURL(t, html.UnescapeString(fs[n][1]))).String(), html.UnescapeString(cs[1])
}

// pkce returns a verifier and its S256 challenge.
func pkce() (string, string) {
	v := secret(32)
	v = strings.NewReplacer("+", "-", "/", "_", "=", "").Replace(v)
	s := sha256.Sum256([]byte(v))
	return v, base64.RawURLEncoding.EncodeToString(s[:])
}
