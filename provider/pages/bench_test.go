package pages

import (
	"net/http/httptest"
	"testing"

	"github.com/guestpass/guestpass/templates"
)

// BenchmarkRender renders the pages of one passcode sign-in (the email
// and code pages) the way the login handler does.
//
//	go test -run '^$' -bench BenchmarkRender -benchmem ./provider/pages
func BenchmarkRender(b *testing.B) {
	r, err := New(templates.FS)
	if err != nil {
		b.Fatal(err)
	}
	d := Data{Tenant: Branding{TenantID: "contoso", DisplayName: "Contoso"}, AppName: "Portal",
		CSRF: "c2VjcmV0LWNzcmYtdG9rZW4tMTIzNDU2Nzg5MA", Email: "guest@example.com",
		Actions: Actions{Email: "/contoso/login/email?flow=x", Verify: "/contoso/login/verify", Resend: "/contoso/login/send", Restart: "/contoso/login/restart"}}
	req := httptest.NewRequest("GET", "/contoso/login", nil)
	req.Header.Set("Accept-Language", "en")
	b.ReportAllocs()
	for b.Loop() {
		for _, p := range []string{PageEmail, PageCode} {
			w := httptest.NewRecorder()
			r.Render(w, req, p, d)
		}
	}
}
