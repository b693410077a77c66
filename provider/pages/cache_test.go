package pages

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/guestpass/guestpass/templates"
)

// The sign-in pages come from the cache, and a cached page is the very
// page the template renders, for every address, language, tenant and
// app, whatever needs escaping.
func TestCachedPagesAreTheRenderedOnes(t *testing.T) {
	r, err := New(templates.FS)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{PageEmail, PageSend, PageCode, PagePassword} {
		if !r.cache.cacheable[p] {
			t.Errorf("page %s is not cached", p)
		}
	}
	emails := []string{"", "ada@example.com", `o'brien+tag@example.com`, `"quoted & <odd>"@example.com`, "a=b`c@example.com", "ünï@例え.jp"}
	tenants := []Branding{{TenantID: "contoso", DisplayName: "Contoso"}, {TenantID: "fab", DisplayName: `Fab & "Co" <x>`, AccentColor: "#0b4f94"}}
	n := 0
	for _, p := range []string{PageEmail, PageSend, PageCode, PagePassword} {
		for _, lang := range []string{"en", "fr"} {
			for _, tb := range tenants {
				for _, email := range emails {
					for _, hint := range []bool{false, true} {
						d := Data{Lang: lang, Tenant: tb, AppName: "Portal & <Co>", CSRF: "Zm9vYmFy-_baz", Email: email,
							LoginHint: hint, RequestID: "6ba7b810-9dad-11d1-80b4-00c04fd430c8", Extra: map[string]string{"minutes": "15"}}
						d.Actions = sampleActions("/"+tb.TenantID+"/login", d.RequestID)
						want, err := r.executeWith(p, d, "nOnCe_1")
						if err != nil {
							t.Fatal(err)
						}
						// Twice: the first fills the cache, the second reads it.
						for range 2 {
							got, cached, err := r.cache.render(r, p, d, "nOnCe_1")
							if err != nil || !cached {
								t.Fatalf("%s: cached=%v, %v", p, cached, err)
							}
							if !bytes.Equal(got, want) {
								t.Fatalf("%s (%s, %q, %q): the cached page differs from the rendered one:\n%s\n---\n%s", p, lang, tb.DisplayName, email, got, want)
							}
						}
						n++
					}
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("nothing compared")
	}
}

// Errors, notices, lists and values outside the URL-safe alphabet are
// never served from the cache.
func TestCacheSkipsWhatVaries(t *testing.T) {
	r, err := New(templates.FS)
	if err != nil {
		t.Fatal(err)
	}
	base := Data{Lang: "en", Tenant: Branding{TenantID: "t"}, CSRF: "abc", RequestID: "id-1"}
	for name, d := range map[string]Data{
		"field error":    func() Data { d := base; d.FieldError = MsgCodeInvalid; return d }(),
		"notice":         func() Data { d := base; d.Message = MsgCooldown; return d }(),
		"status":         func() Data { d := base; d.Status = 429; return d }(),
		"hidden fields":  func() Data { d := base; d.Hidden = []Field{{Name: "a", Value: "b"}}; return d }(),
		"odd csrf":       func() Data { d := base; d.CSRF = "a<b"; return d }(),
		"odd request id": func() Data { d := base; d.RequestID = "a b"; return d }(),
		"message args":   func() Data { d := base; d.MessageArgs = []any{1}; return d }(),
	} {
		if _, cached, _ := r.cache.render(r, PageCode, d, "n"); cached {
			t.Errorf("%s: served from the cache", name)
		}
	}
}

// An admin's template that puts the address where the cache could not
// fill it in the same way (a URL) is never cached, and renders right.
func TestCacheRefusesAnAddressInAURL(t *testing.T) {
	fsys := minimalFS(map[string]string{
		"pages/code.html": `{{define "content"}}<a href="/help?who={{.Email}}">{{.T "next"}}</a>{{end}}`,
	})
	r, err := New(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if r.cache.cacheable[PageCode] {
		t.Fatal("a page with the address in a URL is cached")
	}
	if !r.cache.cacheable[PageEmail] {
		t.Error("the other pages of the set are not cached")
	}
	body, _, err := r.Execute(PageCode, Data{Lang: "en", Email: "a+b@example.com"})
	if err != nil || !bytes.Contains(body, []byte("who=a%2bb%40example.com")) {
		t.Fatalf("rendered %s, %v", body, err)
	}
}

// An admin's template that puts the address in an unquoted attribute,
// where html/template escapes more than in text ('=' and '`', which an
// address may hold), is never cached: filling it in would skip those.
func TestCacheRefusesAnAddressInAnUnquotedAttribute(t *testing.T) {
	fsys := minimalFS(map[string]string{
		"pages/code.html": `{{define "content"}}<input name="email" value={{.Email}}>{{end}}`,
	})
	r, err := New(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if r.cache.cacheable[PageCode] {
		t.Fatal("a page with the address in an unquoted attribute is cached")
	}
	d := Data{Lang: "en", Tenant: Branding{TenantID: "t"}, CSRF: "abc", RequestID: "id-1", Email: "a=b`c@example.com"}
	w := httptest.NewRecorder()
	r.Render(w, httptest.NewRequest(http.MethodGet, "/", nil), PageCode, d)
	if body := w.Body.String(); !strings.Contains(body, "value=a&#61;b&#96;c@example.com") {
		t.Fatalf("rendered %s", body)
	}
}

// The page cache keys on every action: urls must name them all.
func TestActionURLsAreAll(t *testing.T) {
	var a Actions
	if got, want := len(a.urls()), reflect.TypeOf(a).NumField(); got != want {
		t.Fatalf("Actions.urls lists %d of the %d actions", got, want)
	}
	for i, u := range a.urls() {
		*u = string(rune('a' + i))
	}
	v := reflect.ValueOf(a)
	for i := range v.NumField() {
		if v.Field(i).String() == "" {
			t.Errorf("Actions.urls leaves out %s", v.Type().Field(i).Name)
		}
	}
}

// Every field of Data is either in the cache's key, a placeholder, or a
// reason to skip the cache: a new field must be placed in one of these
// (cache.go) before this test passes.
func TestCacheKnowsDataFields(t *testing.T) {
	known := map[string]string{
		"Lang": "key", "Tenant": "key", "AppName": "key", "Title": "key", "LoginHint": "key", "Actions": "key",
		"Extra": "key", "CSRF": "placeholder", "Email": "placeholder", "RequestID": "placeholder",
		"FieldError": "skip", "Message": "skip", "MessageArgs": "skip", "Status": "skip", "Apps": "skip", "Hidden": "skip",
	}
	dt := reflect.TypeOf(Data{})
	for i := range dt.NumField() {
		if _, ok := known[dt.Field(i).Name]; !ok {
			t.Errorf("Data.%s: the page cache does not know it (key, placeholder or skip?)", dt.Field(i).Name)
		}
	}
	if n := reflect.TypeOf(Branding{}).NumField(); n != 4 {
		t.Errorf("Branding has %d fields; the cache keys on 4", n)
	}
}
