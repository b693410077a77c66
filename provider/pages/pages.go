// Package pages renders the sign-in pages (PRODUCT.md B1, B3, B9): server-
// side html/template pages with no JavaScript and no external assets, a
// strict per-response Content-Security-Policy, per-tenant branding, and
// English and French texts chosen from Accept-Language.
//
// The HTTP handlers live in provider/login; they fill a Data and call
// Render. Message texts are looked up by key (T), so handlers never hold
// user-facing strings and JSON errors can share the same translations.
package pages

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
)

// Page names, one template file each (pages/<name>.html).
const (
	PageEmail     = "email"
	PageSend      = "send"
	PageCode      = "code"
	PagePassword  = "password"
	PageError     = "error"
	PageSignedOut = "signedout"
	PageApps      = "apps"
	// PageLogout asks the guest to confirm signing out when the request
	// to end the session did not come with an ID token of that session.
	PageLogout = "logout"
)

// requiredPages must exist in any template set, so that an admin directory
// missing one fails at start rather than at a guest's first sign-in.
var requiredPages = [...]string{PageEmail, PageSend, PageCode, PagePassword, PageError, PageSignedOut, PageApps, PageLogout}

// Branding is how a tenant's pages look.
type Branding struct{ TenantID, DisplayName, LogoURL, AccentColor string }

// App is one entry of the tenant's apps page.
type App struct{ Name, URL string }

// Data is everything a page may show. Handlers fill what applies.
type Data struct {
	// Lang is filled by Render from Accept-Language unless the handler set a
	// language this Renderer has.
	Lang    string
	Tenant  Branding
	AppName string // the relying-party app's name, may be empty
	Title   string // optional override of the page's title and <h1>
	CSRF    string // hidden field "csrf" in every form
	Email   string // the address being signed in
	// LoginHint is true when Email came from the app's login_hint: the
	// email page is pre-filled and focus goes to its button.
	LoginHint bool
	// FieldError is shown next to the page's input, tied to it with
	// aria-describedby / aria-invalid, and in an error summary.
	FieldError MessageKey
	// Message is the body of the error page, or a notice above the form
	// on the other pages (an alert when Status ≥ 400).
	Message MessageKey
	// MessageArgs fill Message's placeholders (see T). Placeholders
	// {tenant}, {email}, {app} and every Extra key are filled from Data
	// without them.
	MessageArgs []any
	Status      int // HTTP status, default 200
	// Actions are the URLs the page posts or links to.
	Actions Actions
	// Extra holds page values: "example" (no_tenant), "retryAfter"
	// (cooldown seconds), "minutes" (code validity, default 30).
	Extra map[string]string
	Apps  []App
	// Hidden are extra hidden fields of the page's form (the logout
	// confirmation carries the app's logout parameters).
	Hidden []Field
	// RequestID is the auth request's id where Actions carry it: pages
	// are cached with it (and the nonce, CSRF token and address) as a
	// placeholder (cache.go). Empty: Actions are part of the cache key.
	RequestID string
}

// Renderer renders the pages. It is immutable after New but for its page
// cache (cache.go, locked), and safe for concurrent use.
type Renderer struct {
	pages map[string]*template.Template
	cache *pageCache
	// bufs are renderBufs for Render to reuse (see renderBuf).
	bufs  sync.Pool
	cat   catalog
	names map[string]bool // placeholder names, for telling pairs from positional args
}

// New parses pages/*.html from fsys (templates.FS, or os.DirFS of an admin's
// directory laid out the same way). Files whose name starts with "_" are
// shared partials (the layout) parsed into every page. Optional
// pages/i18n/<lang>.json files ({"key": "text"}) override or add
// translations; every key must be one the built-in English catalogue knows,
// so a typo fails here instead of silently showing the default.
func New(fsys fs.FS) (*Renderer, error) {
	r := &Renderer{pages: map[string]*template.Template{}, cat: builtinCatalog()}

	files, err := fs.Glob(fsys, "pages/*.html")
	if err != nil {
		return nil, fmt.Errorf("pages: listing templates: %w", err)
	}
	var partials []string
	for _, f := range files {
		if strings.HasPrefix(path.Base(f), "_") {
			partials = append(partials, f)
		}
	}
	for _, f := range files {
		base := path.Base(f)
		if strings.HasPrefix(base, "_") {
			continue
		}
		name := strings.TrimSuffix(base, ".html")
		// One template set per page: every page defines "content" and
		// "layout" is shared, which a single set could not hold.
		t, err := template.New(name).ParseFS(fsys, append(append([]string{}, partials...), f)...)
		if err != nil {
			return nil, fmt.Errorf("pages: parsing %s: %w", f, err)
		}
		if t.Lookup("layout") == nil {
			return nil, fmt.Errorf("pages: %s: no \"layout\" template (expected in a pages/_*.html partial)", f)
		}
		r.pages[name] = t
	}
	for _, p := range requiredPages {
		if r.pages[p] == nil {
			return nil, fmt.Errorf("pages: template pages/%s.html is missing", p)
		}
	}
	if err := r.loadOverrides(fsys); err != nil {
		return nil, err
	}
	r.names = placeholderNames(r.cat)
	r.cache = newPageCache()
	r.cache.selfCheck(r)
	return r, nil
}

func (r *Renderer) loadOverrides(fsys fs.FS) error {
	files, err := fs.Glob(fsys, "pages/i18n/*.json")
	if err != nil {
		return fmt.Errorf("pages: listing translations: %w", err)
	}
	for _, f := range files {
		lang := strings.TrimSuffix(path.Base(f), ".json")
		if !isLangSubtag(lang) || lang == "*" {
			return fmt.Errorf("pages: %s: file name must be a lowercase language subtag such as fr.json", f)
		}
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			return fmt.Errorf("pages: reading %s: %w", f, err)
		}
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("pages: %s: %w", f, err)
		}
		if r.cat[lang] == nil {
			r.cat[lang] = map[string]string{}
		}
		for k, v := range m {
			if _, ok := r.cat[defaultLang][k]; !ok {
				return fmt.Errorf("pages: %s: unknown message key %q", f, k)
			}
			r.cat[lang][k] = v
		}
	}
	return nil
}

// Render writes page with d: Content-Type, the security headers with a
// fresh style nonce, d.Status (200 when 0), and the HTML. The page is
// rendered to a buffer first, so a template error (or an unknown page)
// becomes a bare 500 and never a half-written page; Render does not log,
// the caller's access log sees the status.
func (r *Renderer) Render(w http.ResponseWriter, req *http.Request, page string, d Data) {
	if _, ok := r.cat[d.Lang]; !ok {
		d.Lang = defaultLang
		if req != nil {
			d.Lang = r.Negotiate(req.Header.Get("Accept-Language"))
		}
	}
	nonce := newNonce()
	rb := r.getBuf()
	// The buffer goes back to the pool only once the body is written:
	// Write copies what it is given before it returns (io.Writer's
	// contract, which net/http's response, httptest's recorder and the
	// server's middleware keep), so nothing holds it afterwards.
	defer r.putBuf(rb)
	cached, err := r.cache.renderTo(rb, r, page, &d, nonce)
	if !cached {
		rb.body.Reset()
		err = r.executeTo(&rb.body, page, d, nonce)
	}
	if err != nil {
		renderFailed(w)
		return
	}
	body := rb.body.Bytes()
	_, imgOrigin := logoOrigin(d.Tenant.LogoURL)
	hs := headerSet{h: w.Header(), vals: make([]string, 0, 10)} // a 429 or 503 page sets 10
	hs.security(PageCSP(nonce, imgOrigin))
	hs.set("Content-Type", "text/html; charset=utf-8")
	hs.set("Content-Language", d.Lang)
	hs.add("Vary", "Accept-Language")
	hs.set("Content-Length", strconv.Itoa(len(body)))
	if ra := d.Extra["retryAfter"]; ra != "" && (d.Status == http.StatusTooManyRequests || d.Status == http.StatusServiceUnavailable) {
		if _, err := strconv.Atoi(ra); err == nil {
			hs.set("Retry-After", ra)
		}
	}
	status := d.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	if req == nil || req.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// renderBuf is one response's scratch space: the page cache's key and
// the page's body. Render reuses them through a sync.Pool, so that a
// page served from the cache costs no buffer of its own (the bodies were
// the largest allocation of a sign-in).
type renderBuf struct {
	key  []byte
	body bytes.Buffer
}

// maxPooledBuf bounds what goes back to the pool: the odd huge page (an
// admin's template, a long apps list) does not stay pinned.
const maxPooledBuf = 64 << 10

func (r *Renderer) getBuf() *renderBuf {
	if rb, ok := r.bufs.Get().(*renderBuf); ok {
		return rb
	}
	return &renderBuf{}
}

func (r *Renderer) putBuf(rb *renderBuf) {
	if rb.body.Cap() > maxPooledBuf || cap(rb.key) > maxPooledBuf {
		return
	}
	rb.body.Reset()
	rb.key = rb.key[:0]
	r.bufs.Put(rb)
}

func renderFailed(w http.ResponseWriter) {
	h := w.Header()
	SecurityHeaders(h)
	h.Del("Content-Length")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = w.Write([]byte("Internal Server Error\n"))
}

// ErrUnknownPage is returned by Execute for a page name New did not load.
var ErrUnknownPage = errors.New("pages: unknown page")

// Execute renders page into a byte slice without any HTTP concerns; d.Lang
// must be set (else English). Useful for tests and previews.
func (r *Renderer) Execute(page string, d Data) ([]byte, string, error) {
	if _, ok := r.cat[d.Lang]; !ok {
		d.Lang = defaultLang
	}
	nonce := newNonce()
	b, err := r.executeWith(page, d, nonce)
	return b, nonce, err
}

// executeWith runs page's template with d and nonce (no cache) into a
// new buffer; an unknown page is ErrUnknownPage (the cache holds none:
// Render's and Execute's only check).
func (r *Renderer) executeWith(page string, d Data, nonce string) ([]byte, error) {
	var buf bytes.Buffer
	if err := r.executeTo(&buf, page, d, nonce); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// executeTo is executeWith into buf; on an error buf holds a part of the
// page, which the caller throws away.
func (r *Renderer) executeTo(buf *bytes.Buffer, page string, d Data, nonce string) error {
	t := r.pages[page]
	if t == nil {
		return fmt.Errorf("%w: %q", ErrUnknownPage, page)
	}
	if err := t.ExecuteTemplate(buf, "layout", r.newView(page, d, nonce)); err != nil {
		return fmt.Errorf("pages: rendering %s: %w", page, err)
	}
	return nil
}

// view is what templates see: the handler's Data plus values computed once
// per response (nonce, checked branding) and translation helpers bound to
// the response's language.
type view struct {
	// Data's fields, flat rather than embedded: templates look a field up
	// by name at every use, and a promoted field costs reflect a walk of
	// the embedded structs, with allocations, each time (a third of a
	// page's rendering). newView copies them; TestViewHasDataFields keeps
	// the lists in step.
	Lang        string
	Tenant      Branding
	AppName     string
	Title       string
	CSRF        string
	Email       string
	LoginHint   bool
	FieldError  MessageKey
	Message     MessageKey
	MessageArgs []any
	Status      int
	Actions     Actions
	Extra       map[string]string
	Apps        []App
	Hidden      []Field
	RequestID   string

	Page       string
	Nonce      string
	Accent     template.CSS // validated colour, safe in CSS
	AccentText template.CSS
	Logo       string // validated https URL or ""
	TenantName string
	PageTitle  string

	vars map[string]string
	r    *Renderer
}

func (r *Renderer) newView(page string, d Data, nonce string) *view {
	accent, text := accentColors(d.Tenant.AccentColor)
	logo, _ := logoOrigin(d.Tenant.LogoURL)
	name := strings.TrimSpace(d.Tenant.DisplayName)
	if name == "" {
		name = d.Tenant.TenantID
	}
	vars := map[string]string{}
	for k, val := range d.Extra {
		vars[k] = val
	}
	if vars["minutes"] == "" {
		vars["minutes"] = "30"
	}
	vars["tenant"] = name
	vars["email"] = d.Email
	vars["app"] = d.AppName
	v := &view{
		Lang: d.Lang, Tenant: d.Tenant, AppName: d.AppName, Title: d.Title, CSRF: d.CSRF, Email: d.Email,
		LoginHint: d.LoginHint, FieldError: d.FieldError, Message: d.Message, MessageArgs: d.MessageArgs,
		Status: d.Status, Actions: d.Actions, Extra: d.Extra, Apps: d.Apps, Hidden: d.Hidden, RequestID: d.RequestID,
		Page: page, Nonce: nonce,
		Accent: template.CSS(accent), AccentText: template.CSS(text),
		Logo: logo, TenantName: name,
		vars: vars, r: r,
	}
	v.PageTitle = v.title()
	return v
}

func (v *view) title() string {
	if v.Title != "" {
		return v.Title
	}
	if v.Page == PageError {
		if v.Message != "" {
			if k := string(v.Message) + "_title"; v.r.has(k) {
				return v.T(k)
			}
		}
		return v.T("error_title")
	}
	if k := v.Page + "_title"; v.r.has(k) {
		return v.T(k)
	}
	return v.TenantName
}

func (r *Renderer) has(key string) bool {
	_, ok := r.cat[defaultLang][key]
	return ok
}

// T translates key in the page's language, filling placeholders from args
// (see Renderer.T) and then from the page's data.
func (v *view) T(key string, args ...any) string {
	msg := v.r.lookup(v.Lang, key)
	return fill(msg, v.r.argsToVars(msg, args), v.vars)
}

// Msg is the translated Message with MessageArgs.
func (v *view) Msg() string { return v.T(string(v.Message), v.MessageArgs...) }

// Err is the translated FieldError.
func (v *view) Err() string { return v.T(string(v.FieldError)) }

// Action returns the first non-empty action among names (see
// Actions.ByName).
func (v *view) Action(names ...string) string {
	for _, n := range names {
		if a := v.Actions.ByName(n); a != "" {
			return a
		}
	}
	return ""
}

// Alert tells whether the notice (Message on a form page) is an error.
func (v *view) Alert() bool { return v.Status >= 400 }

// fieldCtx feeds the "errorSummary" partial: the view and the id of the
// input the summary links to.
type fieldCtx struct {
	V     *view
	Field string
}

// With pairs the view with a field id for partials.
func (v *view) With(field string) fieldCtx { return fieldCtx{V: v, Field: field} }
