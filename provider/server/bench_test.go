package server_test

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/guestpass/guestpass/pkg/config"
	"github.com/guestpass/guestpass/pkg/store/redistest"
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
