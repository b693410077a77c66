package session

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"sync"
	"testing"
)

// CSRFToken with its pooled HMAC states is the token a fresh hmac.New
// gave (a form rendered by an older replica is accepted by a newer one),
// reused and from several goroutines at once, and CheckCSRF accepts it.
func TestCSRFTokenIsTheFreshHMAC(t *testing.T) {
	f := NewFlows(testOptions(newFakeClock().Now, false))
	want := func(tenant, flow string) string {
		m := hmac.New(sha256.New, testHash)
		m.Write([]byte("csrf|" + tenant + "|" + flow))
		return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := range 4 {
		wg.Go(func() {
			for n := range 300 {
				tenant, flow := fmt.Sprintf("tenant-%d", g), fmt.Sprintf("flow-%d-%d", g, n)
				tok := f.CSRFToken(tenant, flow)
				if w := want(tenant, flow); tok != w {
					errs <- fmt.Errorf("CSRFToken(%s, %s) = %s, want %s", tenant, flow, tok, w)
					return
				}
				if !f.CheckCSRF(tenant, flow, tok) || f.CheckCSRF(tenant, flow+"x", tok) {
					errs <- fmt.Errorf("CheckCSRF(%s, %s) judges its token wrongly", tenant, flow)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
