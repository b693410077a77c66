package pages

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"golang.org/x/net/html"

	"github.com/guestpass/guestpass/templates"
)

var allLangs = []string{"en", "fr"}

func newRenderer(t *testing.T) *Renderer {
	t.Helper()
	r, err := New(templates.FS)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

// fullData sets every field a page may use, so each template path that
// prints something is exercised.
func fullData() Data {
	return Data{
		Tenant:      Branding{TenantID: "fabrikam", DisplayName: "Fabrikam", AccentColor: "#0b5cad"},
		AppName:     "Fabrikam Portal",
		CSRF:        "csrf-token-value",
		Email:       "guest@contoso.example",
		Message:     "cooldown",
		MessageArgs: []any{"retryAfter", 42},
		Actions: Actions{
			Email: "/fabrikam/login/email", Send: "/fabrikam/login/send",
			Verify: "/fabrikam/login/code", Resend: "/fabrikam/login/resend",
			Restart: "/fabrikam/login", Home: "/fabrikam/apps",
		},
		Extra: map[string]string{"example": "https://id.example/fabrikam/authorize?...", "minutes": "30"},
		Apps:  []App{{Name: "Portal", URL: "https://portal.example/"}, {Name: "Wiki", URL: "https://wiki.example/"}},
	}
}

func render(t *testing.T, r *Renderer, page, acceptLang string, d Data) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/fabrikam/login", nil)
	if acceptLang != "" {
		req.Header.Set("Accept-Language", acceptLang)
	}
	w := httptest.NewRecorder()
	r.Render(w, req, page, d)
	return w
}

func parse(t *testing.T, body string) *html.Node {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return doc
}

func walk(n *html.Node, f func(*html.Node)) {
	f(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, f)
	}
}

func elements(doc *html.Node, tag string) []*html.Node {
	var out []*html.Node
	walk(doc, func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == tag {
			out = append(out, n)
		}
	})
	return out
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func byID(doc *html.Node, id string) *html.Node {
	var found *html.Node
	walk(doc, func(n *html.Node) {
		if v, ok := attr(n, "id"); ok && v == id && found == nil {
			found = n
		}
	})
	return found
}

func text(n *html.Node) string {
	var b strings.Builder
	walk(n, func(c *html.Node) {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	})
	return strings.TrimSpace(b.String())
}

var unfilled = regexp.MustCompile(`\{[A-Za-z_][A-Za-z0-9_]*\}`)

func TestEveryPageRendersInEveryLanguage(t *testing.T) {
	r := newRenderer(t)
	for _, page := range requiredPages {
		for _, lang := range allLangs {
			for _, variant := range []struct {
				name string
				d    Data
			}{
				{"full", fullData()},
				{"minimal", Data{Tenant: Branding{TenantID: "fabrikam"}, CSRF: "c"}},
				{"field-error", func() Data { d := fullData(); d.FieldError = "email_invalid"; d.Status = 400; return d }()},
			} {
				t.Run(page+"/"+lang+"/"+variant.name, func(t *testing.T) {
					w := render(t, r, page, lang, variant.d)
					want := variant.d.Status
					if want == 0 {
						want = 200
					}
					if w.Code != want {
						t.Fatalf("status %d, want %d; body %q", w.Code, want, w.Body.String())
					}
					body := w.Body.String()
					if got := w.Header().Get("Content-Type"); got != "text/html; charset=utf-8" {
						t.Errorf("Content-Type %q", got)
					}
					if got := w.Header().Get("Content-Language"); got != lang {
						t.Errorf("Content-Language %q, want %q", got, lang)
					}
					doc := parse(t, body)
					htmlEl := elements(doc, "html")[0]
					if l, _ := attr(htmlEl, "lang"); l != lang {
						t.Errorf("<html lang=%q>, want %q", l, lang)
					}
					if n := len(elements(doc, "h1")); n != 1 {
						t.Errorf("%d <h1> elements, want 1", n)
					}
					if strings.Contains(strings.ToLower(body), "<script") {
						t.Error("page contains <script")
					}
					if m := unfilled.FindString(body); m != "" {
						t.Errorf("unfilled placeholder %s in page", m)
					}
					if len(elements(doc, "title")) != 1 || text(elements(doc, "title")[0]) == "" {
						t.Error("missing or empty <title>")
					}
					// Every form carries the CSRF token, every POST form only.
					for _, f := range elements(doc, "form") {
						if m, _ := attr(f, "method"); m != "post" {
							t.Errorf("form method %q, want post", m)
						}
						ok := false
						walk(f, func(n *html.Node) {
							if name, _ := attr(n, "name"); n.Data == "input" && name == "csrf" {
								v, _ := attr(n, "value")
								ok = v == variant.d.CSRF
							}
						})
						if !ok {
							t.Error("form without the csrf hidden field")
						}
					}
					// Every button is a real <button>; no <input type=submit>.
					walk(doc, func(n *html.Node) {
						if ty, _ := attr(n, "type"); n.Data == "input" && (ty == "submit" || ty == "button") {
							t.Error("input used as a button")
						}
					})
				})
			}
		}
	}
}

// The visible texts of a page differ between languages: the page really is
// translated, not English with lang="fr".
func TestPagesAreTranslated(t *testing.T) {
	r := newRenderer(t)
	for _, page := range requiredPages {
		d := fullData()
		if page == PageError {
			d.Message = "no_method"
		}
		en := text(elements(parse(t, render(t, r, page, "en", d).Body.String()), "main")[0])
		fr := text(elements(parse(t, render(t, r, page, "fr", d).Body.String()), "main")[0])
		if en == fr {
			t.Errorf("%s: en and fr pages have the same text %q", page, en)
		}
	}
}

func TestSecurityHeaders(t *testing.T) {
	r := newRenderer(t)
	w1 := render(t, r, PageEmail, "", fullData())
	w2 := render(t, r, PageEmail, "", fullData())
	h := w1.Header()
	for k, want := range map[string]string{
		"X-Frame-Options":        "DENY",
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
		"Cache-Control":          "no-store",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'", "img-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	// form-action is left out on purpose (see SecurityHeaders); a policy
	// that adds it must also allow the relying parties' origins.
	if strings.Contains(csp, "form-action") {
		t.Errorf("CSP %q has form-action, which breaks the redirect to the app after a POST", csp)
	}
	m := regexp.MustCompile(`style-src 'nonce-([A-Za-z0-9_-]{22})'`).FindStringSubmatch(csp)
	if m == nil {
		t.Fatalf("CSP %q has no style nonce", csp)
	}
	styles := elements(parse(t, w1.Body.String()), "style")
	if len(styles) != 1 {
		t.Fatalf("%d <style> elements, want 1", len(styles))
	}
	if n, _ := attr(styles[0], "nonce"); n != m[1] {
		t.Errorf("<style nonce=%q> does not match the CSP nonce %q", n, m[1])
	}
	if w2.Header().Get("Content-Security-Policy") == csp {
		t.Error("two responses got the same nonce")
	}
	// No style attributes: the CSP nonce does not cover them.
	walk(parse(t, w1.Body.String()), func(n *html.Node) {
		if _, ok := attr(n, "style"); ok {
			t.Errorf("<%s style=...> would be blocked by the CSP", n.Data)
		}
	})

	plain := http.Header{}
	SecurityHeaders(plain)
	if got := plain.Get("Content-Security-Policy"); !strings.Contains(got, "frame-ancestors 'none'") || !strings.Contains(got, "default-src 'none'") {
		t.Errorf("SecurityHeaders CSP %q", got)
	}
	if plain.Get("X-Frame-Options") != "DENY" || plain.Get("Cache-Control") != "no-store" {
		t.Errorf("SecurityHeaders: %v", plain)
	}
}

var assetRef = regexp.MustCompile(`(?i)(?:\bsrc\s*=\s*"?|\burl\(\s*['"]?|@import\s+['"]?|<link\b[^>]*\bhref\s*=\s*"?)([^"'\s)>]*)`)

func TestNoExternalAssets(t *testing.T) {
	r := newRenderer(t)
	const logo = "https://cdn.fabrikam.example/logo.png"
	for _, page := range requiredPages {
		for _, withLogo := range []bool{false, true} {
			d := fullData()
			if withLogo {
				d.Tenant.LogoURL = logo
			}
			w := render(t, r, page, "en", d)
			body := w.Body.String()
			if strings.Contains(strings.ToLower(body), "<link") {
				t.Errorf("%s: <link> element", page)
			}
			for _, m := range assetRef.FindAllStringSubmatch(body, -1) {
				if m[1] != logo {
					t.Errorf("%s: asset reference %q (only the configured logo is allowed)", page, m[0])
				}
			}
			imgs := elements(parse(t, body), "img")
			csp := w.Header().Get("Content-Security-Policy")
			if withLogo {
				if len(imgs) != 1 {
					t.Fatalf("%s: %d <img>, want the logo", page, len(imgs))
				}
				if alt, _ := attr(imgs[0], "alt"); alt != "Fabrikam logo" {
					t.Errorf("%s: logo alt %q", page, alt)
				}
				if !strings.Contains(csp, "img-src https://cdn.fabrikam.example;") {
					t.Errorf("%s: CSP %q does not allow exactly the logo origin", page, csp)
				}
			} else {
				if len(imgs) != 0 {
					t.Errorf("%s: <img> without a logo", page)
				}
				if !strings.Contains(csp, "img-src 'none'") {
					t.Errorf("%s: CSP %q", page, csp)
				}
			}
		}
	}
}

func TestLogoValidation(t *testing.T) {
	cases := map[string]string{
		"https://cdn.example/l.png":            "https://cdn.example",
		"https://CDN.example:8443/a/b.svg?v=1": "https://cdn.example:8443",
		"http://cdn.example/l.png":             "",
		"javascript:alert(1)":                  "",
		"data:image/png;base64,AAAA":           "",
		"https://user:pw@cdn.example/l.png":    "",
		"https://cdn.example; script-src *":    "",
		"//cdn.example/l.png":                  "",
		"/static/logo.png":                     "",
		"":                                     "",
	}
	r := newRenderer(t)
	for in, want := range cases {
		_, origin := logoOrigin(in)
		if origin != want {
			t.Errorf("logoOrigin(%q) = %q, want %q", in, origin, want)
		}
		d := fullData()
		d.Tenant.LogoURL = in
		w := render(t, r, PageEmail, "en", d)
		imgs := elements(parse(t, w.Body.String()), "img")
		if (want != "") != (len(imgs) == 1) {
			t.Errorf("logo %q: %d <img> elements", in, len(imgs))
		}
		if csp := w.Header().Get("Content-Security-Policy"); strings.Contains(csp, "script-src") {
			t.Errorf("logo %q injected into CSP: %q", in, csp)
		}
	}
}

func TestCodeInputAttributes(t *testing.T) {
	r := newRenderer(t)
	doc := parse(t, render(t, r, PageCode, "en", fullData()).Body.String())
	in := byID(doc, "code")
	if in == nil || in.Data != "input" {
		t.Fatal("no input#code")
	}
	for k, want := range map[string]string{
		"name": "code", "inputmode": "numeric", "autocomplete": "one-time-code",
		"pattern": "[0-9 ]*", "maxlength": "16",
	} {
		if got, ok := attr(in, k); !ok || got != want {
			t.Errorf("code input %s=%q, want %q", k, got, want)
		}
	}
	if _, ok := attr(in, "autofocus"); !ok {
		t.Error("code input not autofocused")
	}
	assertLabelled(t, doc, "code")
	body := text(doc)
	for _, want := range []string{"We sent a code to guest@contoso.example. It is valid for 30 minutes.", "Verify", "Resend code", "Use another email"} {
		if !strings.Contains(body, want) {
			t.Errorf("code page lacks %q", want)
		}
	}
	// Resend is a POST form with a button, Use another email a link.
	var resendForm bool
	for _, f := range elements(doc, "form") {
		if a, _ := attr(f, "action"); a == "/fabrikam/login/resend" {
			resendForm = len(elements(f, "button")) == 1
		}
	}
	if !resendForm {
		t.Error("no POST form with a button for Resend code")
	}
	var restart bool
	for _, a := range elements(doc, "a") {
		if h, _ := attr(a, "href"); h == "/fabrikam/login" && text(a) == "Use another email" {
			restart = true
		}
	}
	if !restart {
		t.Error("no Use another email link")
	}

	// Minutes come from Extra.
	d := fullData()
	d.Extra = map[string]string{"minutes": "10"}
	if !strings.Contains(render(t, r, PageCode, "fr", d).Body.String(), "Il est valable 10 minutes.") {
		t.Error("code validity not taken from Extra[minutes]")
	}
}

func TestEmailAndPasswordInputs(t *testing.T) {
	r := newRenderer(t)
	doc := parse(t, render(t, r, PageEmail, "en", fullData()).Body.String())
	in := byID(doc, "email")
	for k, want := range map[string]string{"type": "email", "autocomplete": "email", "name": "email", "value": "guest@contoso.example"} {
		if got, _ := attr(in, k); got != want {
			t.Errorf("email input %s=%q, want %q", k, got, want)
		}
	}
	assertLabelled(t, doc, "email")
	if h1 := text(elements(doc, "h1")[0]); h1 != "Sign in to Fabrikam" {
		t.Errorf("h1 %q", h1)
	}
	if f := elements(doc, "form")[0]; func() string { a, _ := attr(f, "action"); return a }() != "/fabrikam/login/email" {
		t.Error("email form does not post to Actions[email]")
	}

	// login_hint: focus moves to the button.
	d := fullData()
	d.LoginHint = true
	doc = parse(t, render(t, r, PageEmail, "en", d).Body.String())
	if _, ok := attr(byID(doc, "email"), "autofocus"); ok {
		t.Error("with a login hint the email field should not take focus")
	}
	if _, ok := attr(elements(doc, "button")[0], "autofocus"); !ok {
		t.Error("with a login hint the Next button should take focus")
	}

	doc = parse(t, render(t, r, PagePassword, "en", fullData()).Body.String())
	pw := byID(doc, "password")
	for k, want := range map[string]string{"type": "password", "autocomplete": "current-password", "name": "password"} {
		if got, _ := attr(pw, k); got != want {
			t.Errorf("password input %s=%q, want %q", k, got, want)
		}
	}
	assertLabelled(t, doc, "password")
	if _, ok := attr(byID(doc, "username"), "name"); ok {
		t.Error("the read-only username field must not be submitted")
	}

	doc = parse(t, render(t, r, PageSend, "en", fullData()).Body.String())
	if h1 := text(elements(doc, "h1")[0]); h1 != "We'll send a code to guest@contoso.example" {
		t.Errorf("send h1 %q", h1)
	}
	if b := elements(doc, "button"); len(b) != 1 || text(b[0]) != "Send code" {
		t.Error("send page has no Send code button")
	}
	if a, _ := attr(elements(doc, "form")[0], "action"); a != "/fabrikam/login/send" {
		t.Errorf("send form action %q", a)
	}
}

func assertLabelled(t *testing.T, doc *html.Node, id string) {
	t.Helper()
	for _, l := range elements(doc, "label") {
		if f, _ := attr(l, "for"); f == id && text(l) != "" {
			return
		}
	}
	t.Errorf("input #%s has no <label for>", id)
}

func TestFieldErrorTiedToInput(t *testing.T) {
	r := newRenderer(t)
	for _, c := range []struct {
		page, field string
		key         MessageKey
	}{
		{PageEmail, "email", "email_invalid"},
		{PageEmail, "email", "email_required"},
		{PageCode, "code", "code_invalid"},
		{PageCode, "code", "code_format"},
		{PagePassword, "password", "password_invalid"},
	} {
		for _, lang := range allLangs {
			d := fullData()
			d.Message = ""
			d.FieldError = c.key
			d.Status = http.StatusBadRequest
			w := render(t, r, c.page, lang, d)
			if w.Code != http.StatusBadRequest {
				t.Errorf("%s: status %d", c.page, w.Code)
			}
			doc := parse(t, w.Body.String())
			msg := r.T(lang, string(c.key))
			in := byID(doc, c.field)
			if v, _ := attr(in, "aria-invalid"); v != "true" {
				t.Errorf("%s/%s: input not aria-invalid", c.page, lang)
			}
			if _, ok := attr(in, "autofocus"); !ok {
				t.Errorf("%s/%s: field in error not focused", c.page, lang)
			}
			desc, _ := attr(in, "aria-describedby")
			tied := false
			for _, id := range strings.Fields(desc) {
				if n := byID(doc, id); n != nil && text(n) == msg {
					tied = true
				}
			}
			if !tied {
				t.Errorf("%s/%s: aria-describedby %q does not point at the error %q", c.page, lang, desc, msg)
			}
			var summary *html.Node
			walk(doc, func(n *html.Node) {
				if role, _ := attr(n, "role"); role == "alert" {
					summary = n
				}
			})
			if summary == nil || !strings.Contains(text(summary), msg) {
				t.Fatalf("%s/%s: no role=alert summary with the message", c.page, lang)
			}
			if a := elements(summary, "a"); len(a) != 1 || func() string { h, _ := attr(a[0], "href"); return h }() != "#"+c.field {
				t.Errorf("%s/%s: summary does not link to #%s", c.page, lang, c.field)
			}
			if title := text(elements(doc, "title")[0]); !strings.HasPrefix(title, r.T(lang, "error_prefix")) {
				t.Errorf("%s/%s: <title> %q does not start with the error prefix", c.page, lang, title)
			}
		}
		// Without an error nothing claims to be invalid.
		doc := parse(t, render(t, r, c.page, "en", Data{CSRF: "c", Email: "a@b.example"}).Body.String())
		if _, ok := attr(byID(doc, c.field), "aria-invalid"); ok {
			t.Errorf("%s: aria-invalid without an error", c.page)
		}
		walk(doc, func(n *html.Node) {
			if role, _ := attr(n, "role"); role == "alert" {
				t.Errorf("%s: role=alert without an error", c.page)
			}
		})
	}
}

func TestErrorPages(t *testing.T) {
	r := newRenderer(t)
	for _, c := range []struct {
		key    MessageKey
		status int
		want   string
		extra  map[string]string
	}{
		{"invalid_link", 400, "This link isn't valid", nil},
		{"no_method", 403, "No sign-in method is available for this address. Contact the administrator of Fabrikam.", nil},
		{"otp_disabled", 403, "Sign-in with a one-time passcode is turned off for Fabrikam. Ask the administrator to turn it back on or to reset your account so you can use another method.", nil},
		{"locked", 429, "Too many wrong codes. Try again later.", nil},
		{"too_many_codes", 429, "Too many codes were requested", nil},
		{"unavailable", 503, "The service is temporarily unavailable. Please try again in a minute.", map[string]string{"retryAfter": "60"}},
		{"unknown_tenant", 404, "We don't know this organisation.", nil},
		{"no_tenant", 400, "This sign-in link doesn't say which organisation you're signing in to. Ask for a link of the form https://id.example/{tenant}/authorize.", map[string]string{"example": "https://id.example/{tenant}/authorize"}},
		{"expired_request", 400, "This sign-in request has expired. Go back to the app and start again.", nil},
		{"csrf", 403, "Your session for this page has expired. Go back and try again.", nil},
	} {
		d := Data{Tenant: Branding{TenantID: "fabrikam", DisplayName: "Fabrikam"}, Message: c.key, Status: c.status, Extra: c.extra,
			Actions: Actions{Home: "/fabrikam/apps"}}
		w := render(t, r, PageError, "en-GB", d)
		if w.Code != c.status {
			t.Errorf("%s: status %d, want %d", c.key, w.Code, c.status)
		}
		doc := parse(t, w.Body.String())
		if got := text(elements(doc, "main")[0]); !strings.Contains(got, c.want) {
			t.Errorf("%s: page text %q lacks %q", c.key, got, c.want)
		}
		if h1 := text(elements(doc, "h1")[0]); h1 != r.T("en", string(c.key)+"_title") {
			t.Errorf("%s: h1 %q", c.key, h1)
		}
		if c.key == "unavailable" && w.Header().Get("Retry-After") != "60" {
			t.Errorf("503 without Retry-After")
		}
	}
	// Args for another placeholder leave {tenant} to the page's data.
	od := Data{Tenant: Branding{DisplayName: "Fabrikam"}, Message: "otp_disabled", MessageArgs: []any{"retryAfter", 42}, Status: 403}
	if got := text(elements(parse(t, render(t, r, PageError, "fr", od).Body.String()), "main")[0]); !strings.Contains(got, "désactivée pour Fabrikam.") {
		t.Errorf("otp_disabled page: %q", got)
	}
	// Title override.
	d := Data{Message: "unknown_tenant", Title: "Custom", Status: 404}
	if h1 := text(elements(parse(t, render(t, r, PageError, "", d).Body.String()), "h1")[0]); h1 != "Custom" {
		t.Errorf("Title override ignored: %q", h1)
	}
	// HEAD gets headers, no body.
	req := httptest.NewRequest(http.MethodHead, "/x", nil)
	w := httptest.NewRecorder()
	r.Render(w, req, PageError, d)
	if w.Code != 404 || w.Body.Len() != 0 {
		t.Errorf("HEAD: %d, %d bytes", w.Code, w.Body.Len())
	}
}

func TestAppsAndSignedOut(t *testing.T) {
	r := newRenderer(t)
	doc := parse(t, render(t, r, PageApps, "fr", fullData()).Body.String())
	var got []string
	for _, a := range elements(doc, "a") {
		h, _ := attr(a, "href")
		got = append(got, text(a)+"="+h)
	}
	want := []string{"Portal=https://portal.example/", "Wiki=https://wiki.example/"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("apps links %v, want %v", got, want)
	}
	if h1 := text(elements(doc, "h1")[0]); h1 != "Applications de Fabrikam" {
		t.Errorf("apps h1 %q", h1)
	}
	empty := fullData()
	empty.Apps = nil
	empty.Message = ""
	if !strings.Contains(render(t, r, PageApps, "en", empty).Body.String(), "No apps are available.") {
		t.Error("empty apps page")
	}
	so := render(t, r, PageSignedOut, "en", Data{Tenant: Branding{DisplayName: "Fabrikam"}})
	if h1 := text(elements(parse(t, so.Body.String()), "h1")[0]); h1 != "You have signed out" {
		t.Errorf("signed out h1 %q", h1)
	}
}

func TestTranslationsComplete(t *testing.T) {
	cat := builtinCatalog()
	if got := slices.Sorted(func(yield func(string) bool) {
		for l := range cat {
			if !yield(l) {
				return
			}
		}
	}); !reflect.DeepEqual(got, allLangs) {
		t.Fatalf("languages %v, want %v", got, allLangs)
	}
	for _, a := range allLangs {
		for _, b := range allLangs {
			for k, v := range cat[a] {
				w, ok := cat[b][k]
				if !ok || strings.TrimSpace(w) == "" {
					t.Errorf("key %q exists in %s but not in %s", k, a, b)
					continue
				}
				if pa, pb := slices.Sorted(slices.Values(placeholders(v))), slices.Sorted(slices.Values(placeholders(w))); !reflect.DeepEqual(pa, pb) {
					t.Errorf("key %q: placeholders %v in %s but %v in %s", k, pa, a, pb, b)
				}
			}
		}
	}
	// Every key a template uses exists (a typo would print the key).
	used := regexp.MustCompile(`\.T "([a-z_]+)"`)
	files, _ := filepath.Glob("../../templates/pages/*.html")
	if len(files) == 0 {
		t.Fatal("no templates found")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range used.FindAllStringSubmatch(string(b), -1) {
			if _, ok := cat["en"][m[1]]; !ok {
				t.Errorf("%s uses unknown key %q", f, m[1])
			}
		}
	}
	// Every page that can be an error page has a title key per message.
	for _, k := range []string{"invalid_link", "no_method", "otp_disabled", "locked", "too_many_codes", "unavailable", "unknown_tenant", "no_tenant", "invalid_request", "expired_request", "csrf", "upstream_mismatch"} {
		if _, ok := cat["en"][k+"_title"]; !ok {
			t.Errorf("no title for error %q", k)
		}
	}
}

func TestRequiredMessages(t *testing.T) {
	r := newRenderer(t)
	for _, k := range []string{"email_invalid", "email_required", "code_invalid", "code_format", "locked", "too_many_codes", "cooldown", "no_method", "otp_disabled", "unavailable", "unknown_tenant", "no_tenant", "invalid_request", "expired_request", "csrf", "upstream_mismatch", "signed_out"} {
		for _, l := range allLangs {
			if got := r.T(l, k); got == k || got == "" {
				t.Errorf("%s: no %q", l, k)
			}
		}
	}
	exact := map[string]string{
		"code_invalid":    "That code didn't work. Check the code and try again, or request a new code.",
		"code_format":     "Enter the 8-digit code from the email.",
		"locked":          "Too many wrong codes. Try again later.",
		"no_method":       "No sign-in method is available for this address. Contact the administrator of {tenant}.",
		"otp_disabled":    "Sign-in with a one-time passcode is turned off for {tenant}. Ask the administrator to turn it back on or to reset your account so you can use another method.",
		"unavailable":     "The service is temporarily unavailable. Please try again in a minute.",
		"no_tenant":       "This sign-in link doesn't say which organisation you're signing in to. Ask for a link of the form {example}.",
		"expired_request": "This sign-in request has expired. Go back to the app and start again.",
		"csrf":            "Your session for this page has expired. Go back and try again.",
	}
	for k, want := range exact {
		if got := r.T("en", k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

func TestT(t *testing.T) {
	r := newRenderer(t)
	for _, c := range []struct {
		lang, key string
		args      []any
		want      string
	}{
		{"en", "cooldown", []any{"retryAfter", 42}, "A code was sent a moment ago. Wait 42 seconds before requesting another one."},
		{"fr", "cooldown", []any{42}, "Un code vient d'être envoyé. Attendez 42 secondes avant d'en demander un autre."},
		{"en", "no_method", []any{"Fabrikam"}, "No sign-in method is available for this address. Contact the administrator of Fabrikam."},
		{"en", "no_method", []any{"tenant", "Contoso"}, "No sign-in method is available for this address. Contact the administrator of Contoso."},
		{"en", "no_method", nil, "No sign-in method is available for this address. Contact the administrator of {tenant}."},
		{"en", "locked", []any{"ignored"}, "Too many wrong codes. Try again later."},
		// Pairs meant for another message are ignored, not read positionally.
		{"en", "no_method", []any{"retryAfter", 42}, "No sign-in method is available for this address. Contact the administrator of {tenant}."},
		{"en", "no_tenant", []any{"example", "https://id.example/t/authorize", "tenant", "T"}, "This sign-in link doesn't say which organisation you're signing in to. Ask for a link of the form https://id.example/t/authorize."},
		{"de", "locked", nil, "Too many wrong codes. Try again later."},
		{"fr", "no_such_key", nil, "no_such_key"},
		// A value is never re-scanned for placeholders.
		{"en", "no_method", []any{"{example}"}, "No sign-in method is available for this address. Contact the administrator of {example}."},
	} {
		if got := r.T(c.lang, c.key, c.args...); got != c.want {
			t.Errorf("T(%s, %s, %v) = %q, want %q", c.lang, c.key, c.args, got, c.want)
		}
	}
}

func TestAcceptLanguage(t *testing.T) {
	r := newRenderer(t)
	for _, c := range []struct{ header, want string }{
		{"", "en"},
		{"fr", "fr"},
		{"fr-CA", "fr"},
		{"FR-ca", "fr"},
		{"fr_FR", "fr"},
		{"en-US,fr;q=0.9", "en"},
		{"en;q=0.1, fr;q=0.9", "fr"},
		{"de, fr;q=0.5, en;q=0.4", "fr"},
		{"de-CH, de;q=0.9, en;q=0.8, fr;q=0.7", "en"},
		{"fr;q=0, en", "en"},
		{"fr;q=0.000, es", "en"},
		{"es, *;q=0.5", "en"},
		{"*", "en"},
		{"fr;q=abc", "en"},
		{"fr;q=1.5", "en"},
		{"fr ; q = 0.8 , en ; q = 0.7", "fr"},
		{";;;,,,q=1", "en"},
		{"zh-Hant-TW, fr-BE;q=0.3", "fr"},
		{"fr-CA;q=0.8, en-GB;q=0.8", "fr"},       // equal q: header order wins
		{strings.Repeat("xx,", 40) + "fr", "en"}, // only the first ranges are read
	} {
		if got := r.Negotiate(c.header); got != c.want {
			t.Errorf("Negotiate(%q) = %q, want %q", c.header, got, c.want)
		}
	}
	// Render uses it, and a handler-chosen Lang wins.
	if got := render(t, r, PageEmail, "de, fr-CA;q=0.8", fullData()).Header().Get("Content-Language"); got != "fr" {
		t.Errorf("Render picked %q", got)
	}
	d := fullData()
	d.Lang = "en"
	if got := render(t, r, PageEmail, "fr", d).Header().Get("Content-Language"); got != "en" {
		t.Errorf("explicit Lang overridden: %q", got)
	}
}

// Hostile values from the request (email, CSRF) and from config (tenant
// name, app name, URLs) must come out as text. Each assertion fails if
// html/template's contextual escaping were bypassed (e.g. template.HTML).
func TestEscaping(t *testing.T) {
	r := newRenderer(t)
	const (
		evilEmail  = `"><script>alert(1)</script>@x.example`
		evilTenant = `<img src=x onerror=alert(2)>`
		evilApp    = `</p><script>alert(3)</script>`
	)
	d := Data{
		Tenant:      Branding{TenantID: "t", DisplayName: evilTenant, AccentColor: `red;}body{background:url(https://evil.example/x)`},
		AppName:     evilApp,
		CSRF:        `"><script>alert(4)</script>`,
		Email:       evilEmail,
		Message:     "no_method",
		MessageArgs: []any{"tenant", `<b onmouseover=alert(5)>`},
		Actions: Actions{Email: "javascript:alert(6)", Send: "javascript:alert(6)", Verify: "javascript:alert(6)",
			Resend: "javascript:alert(6)", Restart: "javascript:alert(6)", Home: "javascript:alert(6)"},
		Extra: map[string]string{"example": `<script>alert(7)</script>`},
		Apps:  []App{{Name: `<script>alert(8)</script>`, URL: "javascript:alert(8)"}},
	}
	for _, page := range requiredPages {
		for _, fe := range []MessageKey{"", MsgCodeInvalid} {
			d.FieldError = fe
			body := render(t, r, page, "en", d).Body.String()
			low := strings.ToLower(body)
			for _, bad := range []string{"<script", "<img src=x", "<b onmouseover", "javascript:", "evil.example", "</p><script"} {
				if strings.Contains(low, bad) {
					t.Errorf("%s: unescaped %q in output", page, bad)
				}
			}
			doc := parse(t, body)
			walk(doc, func(n *html.Node) {
				if n.Type != html.ElementNode {
					return
				}
				if n.Data == "script" || (n.Data == "img") || n.Data == "b" {
					t.Errorf("%s: injected <%s> element", page, n.Data)
				}
				for _, a := range n.Attr {
					if strings.HasPrefix(a.Key, "on") {
						t.Errorf("%s: injected %s attribute", page, a.Key)
					}
				}
			})
			// The hostile values are still shown, as text.
			txt := text(doc)
			switch page {
			case PageSend, PageCode:
				if !strings.Contains(txt, evilEmail) {
					t.Errorf("%s: email not shown as text", page)
				}
			case PageEmail:
				if v, _ := attr(byID(doc, "email"), "value"); v != evilEmail {
					t.Errorf("email value attribute %q", v)
				}
			}
			if !strings.Contains(txt, evilTenant) {
				t.Errorf("%s: tenant name not shown as text", page)
			}
			for _, in := range elements(doc, "input") {
				if name, _ := attr(in, "name"); name == "csrf" {
					if v, _ := attr(in, "value"); v != d.CSRF {
						t.Errorf("%s: csrf value %q", page, v)
					}
				}
			}
			// The invalid accent colour fell back to the default.
			if !strings.Contains(body, "background:"+defaultAccent) {
				t.Errorf("%s: invalid accent not replaced by the default", page)
			}
		}
	}
}

func TestAccentColors(t *testing.T) {
	for _, c := range []struct{ in, accent, text string }{
		{"#0b5cad", "#0b5cad", "#ffffff"},
		{"#FFCC00", "#ffcc00", "#000000"},
		{"#fff", "#fff", "#000000"},
		{"#000", "#000", "#ffffff"},
		{"", defaultAccent, "#ffffff"},
		{"red", defaultAccent, "#ffffff"},
		{"#12345g", defaultAccent, "#ffffff"},
		{"#0b5cad;}body{display:none", defaultAccent, "#ffffff"},
		{"expression(alert(1))", defaultAccent, "#ffffff"},
		{"#0b5cad80", defaultAccent, "#ffffff"},
	} {
		a, tx := accentColors(c.in)
		if a != c.accent || tx != c.text {
			t.Errorf("accentColors(%q) = %q, %q; want %q, %q", c.in, a, tx, c.accent, c.text)
		}
	}
	r := newRenderer(t)
	d := fullData()
	d.Tenant.AccentColor = "#ffcc00"
	if body := render(t, r, PageCode, "en", d).Body.String(); !strings.Contains(body, "background:#ffcc00;color:#000000") {
		t.Error("accent colour not used for the button")
	}
}

func minimalFS(extra map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{
		"pages/_layout.html": {Data: []byte(`{{define "layout"}}<!doctype html><html lang="{{.Lang}}"><h1>{{.PageTitle}}</h1>{{template "content" .}}</html>{{end}}`)},
	}
	for _, p := range requiredPages {
		fsys["pages/"+p+".html"] = &fstest.MapFile{Data: []byte(`{{define "content"}}<p>{{.T "next"}}</p>{{end}}`)}
	}
	for k, v := range extra {
		if v == "" {
			delete(fsys, k)
			continue
		}
		fsys[k] = &fstest.MapFile{Data: []byte(v)}
	}
	return fsys
}

func TestTemplateErrorGives500(t *testing.T) {
	r, err := New(minimalFS(map[string]string{
		"pages/code.html": `{{define "content"}}<p>half a page</p>{{.NoSuchField}}{{end}}`,
	}))
	if err != nil {
		t.Fatal(err)
	}
	for _, page := range []string{PageCode, "no-such-page"} {
		w := render(t, r, page, "", fullData())
		if w.Code != http.StatusInternalServerError {
			t.Errorf("%s: status %d, want 500", page, w.Code)
		}
		if strings.Contains(w.Body.String(), "half a page") || strings.Contains(w.Body.String(), "<") {
			t.Errorf("%s: partial page written: %q", page, w.Body.String())
		}
		if w.Header().Get("X-Frame-Options") != "DENY" || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
			t.Errorf("%s: headers %v", page, w.Header())
		}
	}
	if _, _, err := r.Execute("no-such-page", Data{}); err == nil {
		t.Error("Execute of an unknown page succeeded")
	}
}

func TestNewValidatesTemplateSet(t *testing.T) {
	if _, err := New(minimalFS(map[string]string{"pages/code.html": ""})); err == nil || !strings.Contains(err.Error(), "code.html") {
		t.Errorf("missing page: err = %v", err)
	}
	if _, err := New(minimalFS(map[string]string{"pages/email.html": `{{define "content"}}{{if}}{{end}}`})); err == nil {
		t.Error("syntax error accepted")
	}
	if _, err := New(minimalFS(map[string]string{"pages/_layout.html": ""})); err == nil {
		t.Error("missing layout accepted")
	}
	if _, err := New(minimalFS(map[string]string{"pages/i18n/fr.json": `{"nxet": "Suivant"}`})); err == nil {
		t.Error("unknown translation key accepted")
	}
	if _, err := New(minimalFS(map[string]string{"pages/i18n/FR.json": `{}`})); err == nil {
		t.Error("bad language file name accepted")
	}
}

func TestTranslationOverrides(t *testing.T) {
	r, err := New(minimalFS(map[string]string{
		"pages/i18n/de.json": `{"next": "Weiter"}`,
		"pages/i18n/fr.json": `{"next": "Continuer"}`,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Negotiate("de-AT"); got != "de" {
		t.Errorf("Negotiate(de-AT) = %q", got)
	}
	if got := render(t, r, PageEmail, "de", Data{}).Body.String(); !strings.Contains(got, "<p>Weiter</p>") || !strings.Contains(got, `lang="de"`) {
		t.Errorf("German override not used: %s", got)
	}
	if got := r.T("fr", "next"); got != "Continuer" {
		t.Errorf("fr override: %q", got)
	}
	if got := r.T("de", "locked"); got != "Too many wrong codes. Try again later." {
		t.Errorf("missing German key should fall back to English: %q", got)
	}
	if !reflect.DeepEqual(r.Languages(), []string{"de", "en", "fr"}) {
		t.Errorf("Languages %v", r.Languages())
	}
	// The built-in catalogue of another Renderer is untouched.
	if got := newRenderer(t).T("fr", "next"); got != "Suivant" {
		t.Errorf("override leaked into another Renderer: %q", got)
	}
}

// An admin's directory (a copy of the shipped templates) works the same.
func TestAdminDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, templates.FS); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pages", "signedout.html"),
		[]byte(`{{define "content"}}<h1>Bye from {{.TenantName}}</h1>{{end}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := New(os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	if body := render(t, r, PageSignedOut, "", Data{Tenant: Branding{DisplayName: "Fabrikam"}}).Body.String(); !strings.Contains(body, "Bye from Fabrikam") {
		t.Errorf("admin template not used: %s", body)
	}
}
