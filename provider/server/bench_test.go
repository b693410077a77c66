package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/guestpass/guestpass/pkg/config"
	"github.com/guestpass/guestpass/pkg/loadgen"
	"github.com/guestpass/guestpass/pkg/metrics"
	"github.com/guestpass/guestpass/pkg/store/memory"
	"github.com/guestpass/guestpass/pkg/store/redistest"
	"github.com/guestpass/guestpass/provider/server"
)

// BenchmarkSignIn measures one complete passcode sign-in over real HTTP:
// authorize, email, send (the mail goes through the SMTP server in the
// test), verify, callback and the code exchange with ID token verification.
// Each iteration uses a new address of the self-service tenant.
//
//	go test -run '^$' -bench BenchmarkSignIn -benchtime 200x ./provider/server
func BenchmarkSignIn(b *testing.B) {
	for _, backend := range []string{"memory", "redis"} {
		b.Run(backend, func(b *testing.B) {
			// Every guest here comes from 127.0.0.1: lift the limits
			// per client and tenant, which would otherwise (rightly) stop
			// a thousand sign-ins an hour from one address.
			o := envOptions{configure: func(c *config.Config) {
				l := &c.Tenant("contoso").EmailOTP.AbuseLimits
				l.MaxCodesPerIPPerHour, l.MaxCodesPerTenantPerHour = 1_000_000, 1_000_000
			}}
			if backend == "redis" {
				o.redis = redistest.Start(b)
			}
			e := newEnv(b, o)
			r := newRP(b, e, "contoso", "portal", "contoso-secret")
			var n atomic.Int64
			b.SetParallelism(4) // 8 concurrent guests on 2 cores
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					email := fmt.Sprintf("bench%d@guest.example", n.Add(1))
					br := newBrowser(b)
					r.callback(b, e, "contoso", signIn(b, e, br, r.authURL(), email))
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sign-ins/s")
		})
	}
}

// BenchmarkDiscovery is the cheapest tenant request: routing, middleware
// and the library's discovery handler.
func BenchmarkDiscovery(b *testing.B) {
	e := newEnv(b, envOptions{})
	url := e.issuer("fabrikam") + "/.well-known/openid-configuration"
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c := &http.Client{}
		for pb.Next() {
			resp, err := c.Get(url)
			if err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
		}
	})
}

// BenchmarkBuild builds the handler of the config `guestpass bench
// --tenants N` generates: the work of a start or a reload once the config
// is loaded. Its ns/tenant stays flat from 1 to 1000 tenants; it grew
// with the tenants while one ServeMux held every tenant's patterns
// (TestNoMuxGrowsWithTheTenants).
//
//	go test -run '^$' -bench BenchmarkBuild -benchtime 5x ./provider/server
func BenchmarkBuild(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("tenants=%d", n), func(b *testing.B) {
			c := loadgen.ServerConfig{BaseURL: "http://127.0.0.1:8080", Listen: "127.0.0.1:8080",
				MetricsListen: "127.0.0.1:9090", SMTPAddr: "127.0.0.1:2525", Store: loadgen.StoreConfig{Type: "memory"},
				Secrets: [3]string{secret(64), secret(32), secret(32)}, AdminSecret: "bench-admin-secret"}
			for i := range n {
				c.Tenants = append(c.Tenants, loadgen.Tenant{ID: fmt.Sprintf("bench-%d", i), ClientID: "bench-app",
					ClientSecret: "bench-app-secret", RedirectURI: rpCallback})
			}
			cfg, err := config.Parse([]byte(c.YAML()), "bench.yaml", func(string) (string, bool) { return "", false })
			if err != nil {
				b.Fatal(err)
			}
			st := memory.New(nil)
			defer st.Close()
			b.ReportAllocs()
			for b.Loop() {
				h, err := server.Build(server.Deps{Config: cfg, Store: st, Mailer: discardMailer{}, Logger: zap.NewNop(), Metrics: metrics.New()})
				if err != nil {
					b.Fatal(err)
				}
				_ = h.Close(context.Background())
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/tenant")
		})
	}
}

// productionLogger logs as serve does at the default level (info, JSON,
// behind the log guard), into nothing: a benchmark pays for every access
// log line without keeping them.
func productionLogger() *zap.Logger {
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	return zap.New(server.GuardCore(zapcore.NewCore(enc, zapcore.AddSync(io.Discard), zapcore.InfoLevel)))
}

// BenchmarkDiscoveryHandler is discovery as the server's own work: the
// root handler (middleware, access log, routing, CORS, the document)
// called directly, without a network client sharing the CPU.
//
//	go test -run '^$' -bench BenchmarkDiscoveryHandler -benchmem ./provider/server
func BenchmarkDiscoveryHandler(b *testing.B) {
	e := newEnv(b, envOptions{logger: productionLogger()})
	url := e.issuer("fabrikam") + "/.well-known/openid-configuration"
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		e.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, url, nil))
		if rec.Code != http.StatusOK {
			b.Fatalf("discovery: %d", rec.Code)
		}
	}
}

// BenchmarkRefresh is one refresh grant (openid, email, profile,
// offline_access: a new access token, ID token and refresh token) as the
// server's own work: the root handler called directly, each iteration
// rotating the token the previous one returned.
//
//	go test -run '^$' -bench BenchmarkRefresh -benchmem ./provider/server
func BenchmarkRefresh(b *testing.B) {
	for _, backend := range []string{"memory", "redis"} {
		b.Run(backend, func(b *testing.B) {
			o := envOptions{logger: productionLogger()}
			if backend == "redis" {
				o.redis = redistest.Start(b)
			}
			e := newEnv(b, o)
			r := newRP(b, e, "contoso", "portal", "contoso-secret")
			tok, _ := r.callback(b, e, "contoso", signIn(b, e, newBrowser(b), r.authURL(), "refresh@guest.example"))
			refresh := tok.RefreshToken
			url := e.issuer("contoso") + "/oauth/token"
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				body := "grant_type=refresh_token&refresh_token=" + refresh
				req := httptest.NewRequest(http.MethodPost, url, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth("portal", "contoso-secret")
				rec := httptest.NewRecorder()
				e.handler.ServeHTTP(rec, req)
				var resp struct {
					RefreshToken string `json:"refresh_token"`
					IDToken      string `json:"id_token"`
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || rec.Code != http.StatusOK ||
					resp.RefreshToken == "" || resp.IDToken == "" {
					b.Fatalf("refresh: %d %s", rec.Code, rec.Body)
				}
				refresh = resp.RefreshToken
			}
		})
	}
}

// BenchmarkUserinfo is one /userinfo request with a live access token, as
// the server's own work (the root handler called directly): the token's
// signature, its record and its family's mark.
//
//	go test -run '^$' -bench BenchmarkUserinfo -benchmem ./provider/server
func BenchmarkUserinfo(b *testing.B) {
	e := newEnv(b, envOptions{logger: productionLogger()})
	r := newRP(b, e, "contoso", "portal", "contoso-secret")
	tok, _ := r.callback(b, e, "contoso", signIn(b, e, newBrowser(b), r.authURL(), "userinfo@guest.example"))
	url := e.issuer("contoso") + "/userinfo"
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		rec := httptest.NewRecorder()
		e.handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("userinfo: %d %s", rec.Code, rec.Body)
		}
	}
}
