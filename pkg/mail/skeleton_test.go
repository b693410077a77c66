package mail

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"
)

// whole renders cm from its templates, as every mail was before the
// skeletons.
func whole(t *testing.T, r *Renderer, cm CodeMail) Message {
	t.Helper()
	data := codeData{To: cm.To, TenantName: cm.TenantName, AppName: cm.AppName, Code: cm.Code,
		AccentColor: accent(cm.AccentColor), ValidityMinutes: int(cm.Validity / time.Minute)}
	m, err := r.render(KindCode, cm.Lang, cm.To, data)
	if err != nil {
		t.Fatal(err)
	}
	m.Valid = cm.Validity
	return m
}

// countSkeletons counts the skeletons kept, and those that are usable.
func (r *Renderer) countSkeletons() (all, usable int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, sk := range r.skeletons {
		if sk != nil {
			usable++
		}
	}
	return len(r.skeletons), usable
}

// A mail spliced into its skeleton is the mail the templates give, byte
// for byte, whatever the address holds that HTML escapes.
func TestCodeSkeletonGivesTheRenderedMail(t *testing.T) {
	r := newRenderer(t)
	var cases []CodeMail
	for _, lang := range []string{"en", "fr-CA", "de, fr;q=0.5"} {
		for _, to := range []string{"ada@example.com", "o'hara+tag@example.com", "a&b@x.example", "UP.per_case-x@Example.COM"} {
			cm := codeMail(lang)
			cm.To = to
			cases = append(cases, cm)
		}
	}
	odd := codeMail("en")
	odd.TenantName, odd.AppName, odd.AccentColor = `<b>"R&D" + 'co'</b>`, "", "#abc"
	odd.Validity, odd.Code = 90*time.Second, "Ab3x9"
	cases = append(cases, odd)
	for _, cm := range cases {
		for range 2 { // the first mail makes the skeleton, the second finds it
			got, err := r.Code(cm)
			if err != nil {
				t.Fatal(err)
			}
			if want := whole(t, r, cm); got != want {
				t.Errorf("%s %q: spliced mail differs from the rendered one:\n%+v\n%+v", cm.Lang, cm.To, got, want)
			}
		}
	}
	if all, usable := r.countSkeletons(); usable != all || all != 3 {
		t.Errorf("%d skeletons, %d usable; want 3, all usable (en, fr, and the odd tenant)", all, usable)
	}
}

// Mails spliced from one skeleton at once each carry their own code and
// address, and nothing of another's.
func TestCodeSkeletonNeverMixesMails(t *testing.T) {
	r := newRenderer(t)
	const n = 50
	var wg sync.WaitGroup
	got := make([]Message, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cm := codeMail("en")
			cm.To, cm.Code = fmt.Sprintf("user%03d@example.com", i), fmt.Sprintf("%08d", 10_000_000+i*7919)
			m, err := r.Code(cm)
			if err != nil {
				t.Error(err)
			}
			got[i] = m
		}()
	}
	wg.Wait()
	for i, m := range got {
		code, to := fmt.Sprintf("%08d", 10_000_000+i*7919), fmt.Sprintf("user%03d@example.com", i)
		if m.To != to || !strings.Contains(m.Text, code) || !strings.Contains(m.HTML, code) ||
			!strings.Contains(m.Text, to) || !strings.Contains(m.HTML, to) {
			t.Fatalf("mail %d lacks its own code or address:\n%s", i, m.Text)
		}
		for j := range n {
			other, otherTo := fmt.Sprintf("%08d", 10_000_000+j*7919), fmt.Sprintf("user%03d@example.com", j)
			if j != i && (strings.Contains(m.Text+m.HTML+m.Subject, other) || strings.Contains(m.Text+m.HTML+m.Subject, otherTo)) {
				t.Fatalf("mail %d carries mail %d's code or address", i, j)
			}
		}
		for _, ph := range r.hole {
			if strings.Contains(m.Text+m.HTML+m.Subject, ph) {
				t.Fatalf("mail %d carries a placeholder", i)
			}
		}
	}
	if _, usable := r.countSkeletons(); usable != 1 {
		t.Errorf("%d usable skeletons, want 1", usable)
	}
}

// A template that uses the address where HTML text escaping is not the
// rule (a script), or transforms it, and an address or code outside what
// splicing takes: the mail is rendered whole, and is what it was.
func TestCodeSkeletonRefusedWhereSplicingWouldDiffer(t *testing.T) {
	fs := fstest.MapFS{}
	for _, kind := range []string{"code", "invite"} {
		fs["mail/"+kind+".subject.en.tmpl"] = &fstest.MapFile{Data: []byte("Hello {{.TenantName}}")}
		fs["mail/"+kind+".txt.en.tmpl"] = &fstest.MapFile{Data: []byte("{{.Code}} {{.To}}")}
		fs["mail/"+kind+".html.en.tmpl"] = &fstest.MapFile{Data: []byte("<p>{{.Code}} {{.To}}</p>")}
	}
	fs["mail/code.html.fr.tmpl"] = &fstest.MapFile{Data: []byte("<p>{{.Code}}</p><script>var to = {{.To}};</script>")}
	fs["mail/code.txt.fr.tmpl"] = &fstest.MapFile{Data: []byte("{{.Code}} {{.To}}")}
	fs["mail/code.subject.fr.tmpl"] = &fstest.MapFile{Data: []byte("Bonjour")}
	fs["mail/code.html.de.tmpl"] = &fstest.MapFile{Data: []byte("<p>{{.Code}}</p>")}
	fs["mail/code.txt.de.tmpl"] = &fstest.MapFile{Data: []byte("{{.Code}} ({{len .To}})")}
	fs["mail/code.subject.de.tmpl"] = &fstest.MapFile{Data: []byte("Hallo")}
	r, err := NewRenderer(fs)
	if err != nil {
		t.Fatal(err)
	}
	for _, cm := range []CodeMail{
		{Lang: "fr", To: "o'hara@example.com", Code: "12345678", Validity: time.Hour},
		{Lang: "de", To: "ada@example.com", Code: "12345678", Validity: time.Hour},
		{Lang: "en", To: "jöe@example.com", Code: "12345678", Validity: time.Hour},
		{Lang: "en", To: "ada@example.com", Code: "1234-5678", Validity: time.Hour},
	} {
		got, err := r.Code(cm)
		if err != nil {
			t.Fatal(err)
		}
		if want := whole(t, r, cm); got != want {
			t.Errorf("%s %q %q: got\n%+v\nwant\n%+v", cm.Lang, cm.To, cm.Code, got, want)
		}
	}
	if all, usable := r.countSkeletons(); all != 2 || usable != 0 {
		t.Errorf("%d skeletons, %d usable; want fr and de, neither usable", all, usable)
	}
}

// The skeletons kept are bounded, however many tenants and apps mail;
// past the bound the ones kept stay (the mails beyond it are rendered
// whole) rather than all being dropped and cut again.
func TestCodeSkeletonsAreBounded(t *testing.T) {
	r := newRenderer(t)
	for i := range skeletonCap + 10 {
		cm := codeMail("en")
		cm.TenantName = fmt.Sprint("tenant", i)
		if _, err := r.Code(cm); err != nil {
			t.Fatal(err)
		}
	}
	if all, _ := r.countSkeletons(); all != skeletonCap {
		t.Errorf("%d skeletons kept, want the cap, %d", all, skeletonCap)
	}
}
