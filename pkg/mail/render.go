// Package mail renders guestpass mails from templates and delivers them
// asynchronously over SMTP (PRODUCT.md B3 "Mail", B9).
//
// Rendering (Renderer) and delivery (Transport, Dispatcher) are separate so
// that the sign-in pages render and enqueue in microseconds and page timing
// never depends on the mail server.
package mail

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strings"
	"sync"
	texttemplate "text/template"
	"time"
)

// Kinds of mail, used as Message.Kind and as the metrics label.
const (
	KindCode   = "code"
	KindInvite = "invite"
)

// DefaultLang is the language used when the requested one has no
// templates. Its templates must exist.
const DefaultLang = "en"

// DefaultAccentColor is used when a tenant has none or an unusable one.
const DefaultAccentColor = "#0b5cad"

// ErrHeaderInjection is returned when a value that ends up in a mail header
// carries CR, LF or NUL.
var ErrHeaderInjection = errors.New("mail: line break or NUL in a header value")

// Message is a rendered mail, ready for a Transport.
type Message struct {
	To      string
	Subject string
	Text    string
	HTML    string
	// Kind is "code" or "invite" (metrics label, log field).
	Kind string
	// Tenant names the queue the mail waits in (Dispatcher: one fair
	// queue per tenant).
	Tenant string
	// Valid is how long after queueing the mail is worth delivering (a
	// code's validity, an invitation link's): retried until then, then
	// dropped. 0: a day (defaultValidity).
	Valid time.Duration
	// ID is the outbox's id of the mail, set for each delivery attempt
	// (never stored in its record): every attempt of one mail carries the
	// same Message-ID, so a mail sent twice (the outbox delivers at least
	// once) reads as one to whoever receives it. "" for a fresh one.
	ID string `json:"-"`
}

// CodeMail is what a passcode mail says.
type CodeMail struct {
	// Lang is a language tag ("fr", "fr-CA") or an Accept-Language value.
	Lang string
	// To is the stored canonical address (B10: mail goes to the stored
	// address, never the typed one).
	To          string
	TenantName  string
	AppName     string
	Code        string
	AccentColor string
	// Validity is how long the code is accepted (the tenant's codeTTL).
	Validity time.Duration
}

// InviteMail is what an invitation mail says. There is deliberately no
// free-text message from the inviter: an invitation must not become a way
// to send arbitrary text from the tenant's name.
type InviteMail struct {
	Lang       string
	To         string
	TenantName string
	// InviterName is optional ("Ada Lovelace has invited you ...").
	InviterName string
	// RedeemURL is the absolute http(s) link /{tenant}/redeem/{token}.
	RedeemURL   string
	AccentColor string
}

// codeData is what code templates see.
type codeData struct {
	To, TenantName, AppName, Code, AccentColor string
	ValidityMinutes                            int
}

// inviteData is what invite templates see.
type inviteData struct {
	To, TenantName, InviterName, RedeemURL, AccentColor string
}

// set is one kind of mail in one language.
type set struct {
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

// Renderer turns CodeMail and InviteMail values into Messages. Its
// templates are fixed at NewRenderer; it is safe for concurrent use.
type Renderer struct {
	sets  map[string]map[string]*set // kind → lang → set
	langs map[string][]string        // kind → available languages, sorted
	// hole holds the placeholders for the code and the address that the
	// skeletons are rendered with: random, so that no template or value
	// can hold one by chance.
	hole [2]string

	mu        sync.Mutex
	skeletons map[codeKey]*skeleton // nil: that mail cannot be spliced
}

// fileName is {kind}.{part}.{lang}.tmpl, e.g. code.subject.fr.tmpl.
var fileName = regexp.MustCompile(`^([a-z]+)\.(subject|txt|html)\.([a-z]{2,3}(?:-[a-z0-9]{2,8})*)\.tmpl$`)

// linkPattern finds anything in a code template that could become a link
// or fetch something remote. Checked on the template source, so a bad
// admin template fails at start, not when a guest waits for a code.
var linkPattern = regexp.MustCompile(`(?i)https?:|href|src\s*=|url\s*\(|<a[\s>]|<img|<link|<form|<base|srcset|@import`)

// NewRenderer parses mail/*.tmpl from fsys (templates.FS, or os.DirFS of
// an admin's directory). Each kind must be complete (subject, txt, html)
// in every language it has, and "code" and "invite" must exist in English.
func NewRenderer(fsys fs.FS) (*Renderer, error) {
	names, err := fs.Glob(fsys, "mail/*.tmpl")
	if err != nil {
		return nil, fmt.Errorf("mail templates: %w", err)
	}
	type parts map[string][]byte // part → source
	found := map[string]map[string]parts{}
	for _, name := range names {
		base := path.Base(name)
		m := fileName.FindStringSubmatch(base)
		if m == nil {
			return nil, fmt.Errorf("mail templates: %s: name must be {kind}.{subject|txt|html}.{lang}.tmpl", name)
		}
		kind, part, lang := m[1], m[2], m[3]
		src, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("mail templates: %w", err)
		}
		if kind == KindCode {
			if loc := linkPattern.FindIndex(src); loc != nil {
				return nil, fmt.Errorf("mail templates: %s: a passcode mail must contain no links or remote content (found %q); phishing relays reuse such mails", name, src[loc[0]:loc[1]])
			}
		}
		if found[kind] == nil {
			found[kind] = map[string]parts{}
		}
		if found[kind][lang] == nil {
			found[kind][lang] = parts{}
		}
		found[kind][lang][part] = src
	}

	r := &Renderer{sets: map[string]map[string]*set{}, langs: map[string][]string{}, skeletons: map[codeKey]*skeleton{}}
	for i := range r.hole {
		var b [12]byte
		_, _ = rand.Read(b[:])
		r.hole[i] = "gp" + hex.EncodeToString(b[:])
	}
	for kind, byLang := range found {
		r.sets[kind] = map[string]*set{}
		for lang, p := range byLang {
			for _, part := range []string{"subject", "txt", "html"} {
				if p[part] == nil {
					return nil, fmt.Errorf("mail templates: mail/%s.%s.%s.tmpl is missing (every language of a mail needs subject, txt and html)", kind, part, lang)
				}
			}
			s := &set{}
			id := func(part string) string { return kind + "." + part + "." + lang }
			if s.subject, err = texttemplate.New(id("subject")).Option("missingkey=error").Parse(string(p["subject"])); err != nil {
				return nil, fmt.Errorf("mail templates: %w", err)
			}
			if s.text, err = texttemplate.New(id("txt")).Option("missingkey=error").Parse(string(p["txt"])); err != nil {
				return nil, fmt.Errorf("mail templates: %w", err)
			}
			if s.html, err = htmltemplate.New(id("html")).Option("missingkey=error").Parse(string(p["html"])); err != nil {
				return nil, fmt.Errorf("mail templates: %w", err)
			}
			r.sets[kind][lang] = s
			r.langs[kind] = append(r.langs[kind], lang)
		}
		sort.Strings(r.langs[kind])
	}
	for _, kind := range []string{KindCode, KindInvite} {
		if r.sets[kind][DefaultLang] == nil {
			return nil, fmt.Errorf("mail templates: mail/%s.{subject,txt,html}.%s.tmpl are required", kind, DefaultLang)
		}
	}
	return r, nil
}

// Languages lists the languages available for a kind of mail.
func (r *Renderer) Languages(kind string) []string {
	return append([]string(nil), r.langs[kind]...)
}

// Code renders a passcode mail. The code never appears in the subject, and
// the rendering fails rather than send a mail that breaks that rule.
func (r *Renderer) Code(m CodeMail) (Message, error) {
	if err := checkHeaderValue("to", m.To); err != nil {
		return Message{}, err
	}
	if m.Code == "" {
		return Message{}, errors.New("mail: code mail without a code")
	}
	// Rounded down: the mail never promises more time than the code has.
	minutes := int(m.Validity / time.Minute)
	if minutes < 1 {
		return Message{}, fmt.Errorf("mail: code validity %v is under a minute", m.Validity)
	}
	data := codeData{
		To: m.To, TenantName: m.TenantName, AppName: m.AppName, Code: m.Code,
		AccentColor: accent(m.AccentColor), ValidityMinutes: minutes,
	}
	var msg Message
	var err error
	if sk := r.skeleton(m.Lang, data); sk != nil {
		msg, err = finish(KindCode, m.To, sk.splice(m.Code, m.To))
	} else {
		msg, err = r.render(KindCode, m.Lang, m.To, data)
	}
	if err != nil {
		return Message{}, err
	}
	msg.Valid = m.Validity
	if strings.Contains(msg.Subject, m.Code) {
		return Message{}, errors.New("mail: the code must not appear in the subject")
	}
	return msg, nil
}

// Invite renders an invitation mail.
func (r *Renderer) Invite(m InviteMail) (Message, error) {
	if err := checkHeaderValue("to", m.To); err != nil {
		return Message{}, err
	}
	u, err := url.Parse(m.RedeemURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.ContainsAny(m.RedeemURL, "\r\n\x00 ") {
		return Message{}, fmt.Errorf("mail: redeem URL must be an absolute http(s) URL")
	}
	data := inviteData{
		To: m.To, TenantName: m.TenantName, InviterName: m.InviterName,
		RedeemURL: m.RedeemURL, AccentColor: accent(m.AccentColor),
	}
	return r.render(KindInvite, m.Lang, m.To, data)
}

func (r *Renderer) render(kind, lang, to string, data any) (Message, error) {
	parts, err := r.execute(kind, lang, data)
	if err != nil {
		return Message{}, err
	}
	return finish(kind, to, parts)
}

// execute runs the subject, text and html templates of kind in lang.
func (r *Renderer) execute(kind, lang string, data any) ([3]string, error) {
	s := r.sets[kind][r.pick(kind, lang)]
	if s == nil {
		return [3]string{}, fmt.Errorf("mail: no templates for %q", kind)
	}
	var subj, text, html bytes.Buffer
	if err := s.subject.Execute(&subj, data); err != nil {
		return [3]string{}, fmt.Errorf("mail: render %s subject: %w", kind, err)
	}
	if err := s.text.Execute(&text, data); err != nil {
		return [3]string{}, fmt.Errorf("mail: render %s text: %w", kind, err)
	}
	if err := s.html.Execute(&html, data); err != nil {
		return [3]string{}, fmt.Errorf("mail: render %s html: %w", kind, err)
	}
	return [3]string{subj.String(), text.String(), html.String()}, nil
}

// finish makes a Message of the rendered subject, text and html.
func finish(kind, to string, parts [3]string) (Message, error) {
	subject := strings.TrimSpace(parts[0])
	if subject == "" {
		return Message{}, fmt.Errorf("mail: %s subject is empty", kind)
	}
	if err := checkHeaderValue("subject", subject); err != nil {
		return Message{}, err
	}
	return Message{To: to, Subject: subject, Text: parts[1], HTML: parts[2], Kind: kind}, nil
}

// pick chooses a language: an exact match, then the base language ("fr"
// for "fr-CA"), for each entry of an Accept-Language list in order of
// preference; else DefaultLang.
func (r *Renderer) pick(kind, lang string) string {
	avail := r.sets[kind]
	for _, tag := range preferred(lang) {
		if avail[tag] != nil {
			return tag
		}
		if i := strings.IndexByte(tag, '-'); i > 0 && avail[tag[:i]] != nil {
			return tag[:i]
		}
	}
	return DefaultLang
}

// preferred turns "fr-CA, en;q=0.8, de;q=0.9" (or a bare "fr_CA") into
// lowercase tags by descending q, dropping q=0 and "*". Input is capped:
// it comes from a request header.
func preferred(s string) []string {
	if len(s) > 512 {
		s = s[:512]
	}
	type entry struct {
		tag string
		q   float64
		i   int
	}
	var list []entry
	for i, part := range strings.Split(s, ",") {
		tag, params, _ := strings.Cut(part, ";")
		tag = strings.ToLower(strings.ReplaceAll(strings.TrimSpace(tag), "_", "-"))
		if tag == "" || tag == "*" {
			continue
		}
		q := 1.0
		if p := strings.TrimSpace(params); strings.HasPrefix(p, "q=") {
			var v float64
			if _, err := fmt.Sscanf(p[2:], "%g", &v); err == nil {
				q = v
			}
		}
		if q <= 0 {
			continue
		}
		list = append(list, entry{tag, q, i})
	}
	sort.SliceStable(list, func(a, b int) bool { return list[a].q > list[b].q })
	out := make([]string, len(list))
	for i, e := range list {
		out[i] = e.tag
	}
	return out
}

var hexColor = regexp.MustCompile(`^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

// accent admits only #rgb / #rrggbb: the value lands in inline CSS, where
// html/template would otherwise replace anything odd with ZgotmplZ.
func accent(c string) string {
	if hexColor.MatchString(c) {
		return c
	}
	return DefaultAccentColor
}

// checkHeaderValue refuses CR, LF and NUL (header injection, abuse case 10).
func checkHeaderValue(field, v string) error {
	if strings.ContainsAny(v, "\r\n\x00") {
		return fmt.Errorf("%s: %w", field, ErrHeaderInjection)
	}
	return nil
}
