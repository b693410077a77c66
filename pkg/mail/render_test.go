package mail

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/guestpass/guestpass/templates"
)

func newRenderer(t *testing.T) *Renderer {
	t.Helper()
	r, err := NewRenderer(templates.FS)
	if err != nil {
		t.Fatalf("NewRenderer(templates.FS): %v", err)
	}
	return r
}

func codeMail(lang string) CodeMail {
	return CodeMail{
		Lang: lang, To: "ada@example.com", TenantName: "Fabrikam", AppName: "Portal",
		Code: "01234567", AccentColor: "#0b5cad", Validity: 30 * time.Minute,
	}
}

func TestCodeEnglish(t *testing.T) {
	r := newRenderer(t)
	m, err := r.Code(codeMail("en-US"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "Your Fabrikam sign-in code for Portal" {
		t.Errorf("subject = %q", m.Subject)
	}
	if m.Kind != KindCode || m.To != "ada@example.com" {
		t.Errorf("kind/to = %q %q", m.Kind, m.To)
	}
	for name, body := range map[string]string{"text": m.Text, "html": m.HTML} {
		for _, want := range []string{
			"Fabrikam", "Portal", "01234567", "This code is valid for 30 minutes.",
			"If you didn't request this code, you can ignore this email.", "ada@example.com",
		} {
			if !strings.Contains(strings.ReplaceAll(body, "&#39;", "'"), want) {
				t.Errorf("%s part lacks %q:\n%s", name, want, body)
			}
		}
		for _, bad := range []string{"http", "href", "<img", "src="} {
			if strings.Contains(strings.ToLower(body), bad) {
				t.Errorf("%s part contains %q", name, bad)
			}
		}
	}
	if !strings.Contains(m.HTML, "monospace") || !strings.Contains(m.HTML, "#0b5cad") {
		t.Errorf("html lacks the monospace code or the accent colour")
	}
}

func TestCodeFrench(t *testing.T) {
	r := newRenderer(t)
	for _, lang := range []string{"fr", "fr-CA", "FR_be", "de-DE, fr;q=0.8, en;q=0.5", "en;q=0.2, fr"} {
		m, err := r.Code(codeMail(lang))
		if err != nil {
			t.Fatal(err)
		}
		if m.Subject != "Votre code de connexion Fabrikam pour Portal" {
			t.Errorf("%s: subject = %q", lang, m.Subject)
		}
		if !strings.Contains(m.Text, "Ce code est valable 30 minutes.") ||
			!strings.Contains(m.Text, "Si vous n'avez pas demandé ce code, vous pouvez ignorer cet e-mail.") ||
			!strings.Contains(m.HTML, "01234567") {
			t.Errorf("%s: french body wrong:\n%s", lang, m.Text)
		}
	}
	for _, lang := range []string{"", "de", "zz-ZZ", "fr;q=0", "*", strings.Repeat("x,", 1000)} {
		m, err := r.Code(codeMail(lang))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(m.Subject, "Your ") {
			t.Errorf("%q: want the English fallback, got %q", lang, m.Subject)
		}
	}
}

func TestCodeEscapingAndRules(t *testing.T) {
	r := newRenderer(t)

	m := codeMail("en")
	m.TenantName = `<script>alert(1)</script>`
	m.AccentColor = `red;background:url(https://evil.example/x)`
	got, err := r.Code(m)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(got.HTML, "<script>") || strings.Contains(got.HTML, "evil.example") {
		t.Errorf("html not escaped / accent not sanitised:\n%s", got.HTML)
	}
	if !strings.Contains(got.HTML, DefaultAccentColor) {
		t.Errorf("bad accent colour should fall back to %s", DefaultAccentColor)
	}

	m = codeMail("en")
	m.Validity = time.Minute
	if got, err := r.Code(m); err != nil || !strings.Contains(got.Text, "valid for 1 minute.") {
		t.Errorf("1 minute: %v\n%s", err, got.Text)
	}
	m.Validity = 90 * time.Second // never promise more than the truth
	if got, _ := r.Code(m); !strings.Contains(got.Text, "valid for 1 minute.") {
		t.Errorf("90s rendered as:\n%s", got.Text)
	}
	m.Validity = 30 * time.Second
	if _, err := r.Code(m); err == nil {
		t.Error("validity under a minute accepted")
	}

	for name, mut := range map[string]func(*CodeMail){
		"crlf in to":     func(c *CodeMail) { c.To = "ada@example.com\r\nBcc: x@evil.example" },
		"nul in to":      func(c *CodeMail) { c.To = "ada@example.com\x00" },
		"crlf in tenant": func(c *CodeMail) { c.TenantName = "Fabrikam\r\nBcc: x@evil.example" },
		"lf in app name": func(c *CodeMail) { c.AppName = "Portal\nX-Evil: 1" },
	} {
		c := codeMail("en")
		mut(&c)
		if _, err := r.Code(c); !errors.Is(err, ErrHeaderInjection) {
			t.Errorf("%s: err = %v, want ErrHeaderInjection", name, err)
		}
	}
	c := codeMail("en")
	c.Code = ""
	if _, err := r.Code(c); err == nil {
		t.Error("empty code accepted")
	}
}

func TestInvite(t *testing.T) {
	r := newRenderer(t)
	in := InviteMail{Lang: "en", To: "bob@example.com", TenantName: "Fabrikam", InviterName: "Ada Lovelace",
		RedeemURL: "https://id.example/fabrikam/redeem/tok123", AccentColor: "#abc"}
	m, err := r.Invite(in)
	if err != nil {
		t.Fatal(err)
	}
	if m.Kind != KindInvite || m.Subject != "You're invited to sign in to Fabrikam" {
		t.Errorf("kind %q subject %q", m.Kind, m.Subject)
	}
	if !strings.Contains(m.Text, in.RedeemURL) || !strings.Contains(m.HTML, `href="https://id.example/fabrikam/redeem/tok123"`) ||
		!strings.Contains(m.Text, "Ada Lovelace has invited you") {
		t.Errorf("invite lacks link or inviter:\n%s\n%s", m.Text, m.HTML)
	}
	in.Lang = "fr"
	if m, err = r.Invite(in); err != nil || !strings.HasPrefix(m.Subject, "Vous êtes invité") {
		t.Errorf("fr invite: %v %q", err, m.Subject)
	}
	for _, bad := range []string{"javascript:alert(1)", "/fabrikam/redeem/x", "https://x.example/\r\nBcc: y", "", "ftp://x.example/"} {
		in.RedeemURL = bad
		if _, err := r.Invite(in); err == nil {
			t.Errorf("redeem URL %q accepted", bad)
		}
	}
}

// An admin's template directory is checked when it is loaded.
func TestNewRendererRefusesBadTemplates(t *testing.T) {
	full := func() fstest.MapFS {
		fs := fstest.MapFS{}
		for _, kind := range []string{"code", "invite"} {
			fs["mail/"+kind+".subject.en.tmpl"] = &fstest.MapFile{Data: []byte("Hello {{.TenantName}}")}
			fs["mail/"+kind+".txt.en.tmpl"] = &fstest.MapFile{Data: []byte("text {{.To}}")}
			fs["mail/"+kind+".html.en.tmpl"] = &fstest.MapFile{Data: []byte("<p>{{.To}}</p>")}
		}
		return fs
	}
	if _, err := NewRenderer(full()); err != nil {
		t.Fatalf("minimal set refused: %v", err)
	}
	cases := map[string]func(fstest.MapFS){
		"link in code html": func(f fstest.MapFS) {
			f["mail/code.html.en.tmpl"] = &fstest.MapFile{Data: []byte(`<a href="https://x.example">x</a>`)}
		},
		"logo image in code": func(f fstest.MapFS) {
			f["mail/code.html.en.tmpl"] = &fstest.MapFile{Data: []byte(`<IMG SRC = "logo.png">`)}
		},
		"url in code text": func(f fstest.MapFS) {
			f["mail/code.txt.en.tmpl"] = &fstest.MapFile{Data: []byte(`see http://x.example`)}
		},
		"missing part": func(f fstest.MapFS) { delete(f, "mail/invite.html.en.tmpl") },
		"no english": func(f fstest.MapFS) {
			delete(f, "mail/code.subject.en.tmpl")
			delete(f, "mail/code.txt.en.tmpl")
			delete(f, "mail/code.html.en.tmpl")
		},
		"bad name":        func(f fstest.MapFS) { f["mail/code.en.tmpl"] = &fstest.MapFile{Data: []byte("x")} },
		"syntax error":    func(f fstest.MapFS) { f["mail/code.txt.en.tmpl"] = &fstest.MapFile{Data: []byte("{{.To")} },
		"incomplete lang": func(f fstest.MapFS) { f["mail/code.subject.de.tmpl"] = &fstest.MapFile{Data: []byte("x")} },
	}
	for name, mut := range cases {
		f := full()
		mut(f)
		if _, err := NewRenderer(f); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}

	// A template that puts the code in the subject fails at render time.
	f := full()
	f["mail/code.subject.en.tmpl"] = &fstest.MapFile{Data: []byte("Your code is {{.Code}}")}
	r, err := NewRenderer(f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Code(codeMail("en")); err == nil {
		t.Error("code in subject accepted")
	}
}

// BenchmarkCodeMail: rendering a passcode mail (a skeleton's splice once
// the tenant's first mail has made it).
//
//	go test -run '^$' -bench BenchmarkCodeMail -count 5 ./pkg/mail
func BenchmarkCodeMail(b *testing.B) {
	r, err := NewRenderer(templates.FS)
	if err != nil {
		b.Fatal(err)
	}
	cm := codeMail("en")
	b.ReportAllocs()
	for range b.N {
		if _, err := r.Code(cm); err != nil {
			b.Fatal(err)
		}
	}
}
