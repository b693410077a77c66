package pages

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"html/template"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// A sign-in shows three pages, and html/template walks each page's tree
// with reflection at every action: the pages were a sixth of a sign-in's
// CPU. Yet a page differs from one guest to the next only by a few
// values: the style nonce, the flow's CSRF token, the auth request's id
// in the form actions, and the guest's address. So a page is rendered
// once per everything else (page, language, tenant, app, ...) with
// placeholders for those four, and each response fills them in.
//
// Filling in is only right where a value is escaped the way the template
// would have escaped it. The tokens (nonce, CSRF, request id) are
// URL-safe base64 or UUIDs, which no escaper changes; the address is
// escaped as html/template escapes HTML text and attribute values. New
// renders every page both ways with an address full of characters to
// escape, and caches only the pages whose two renderings are the same:
// a page (an admin's template, say) that puts the address in a URL is
// simply always rendered.

// maxCached bounds the cache's bytes (a few KiB a page: thousands of
// tenants' pages); beyond it pages are rendered as before.
const maxCached = 16 << 20

// phPrefix starts every placeholder (then 24 random hex digits).
const phPrefix = "gpph"

type pageCache struct {
	// ph are the placeholders, random per Renderer so that no text can
	// forge one.
	ph struct{ nonce, csrf, req, email string }
	// cacheable pages (their self-check passed); read-only after New.
	cacheable map[string]bool
	// escape is html/template's own escaping of HTML text.
	escape *template.Template

	mu    sync.RWMutex
	pages map[string][]byte
	bytes int
}

func newPageCache() *pageCache {
	c := &pageCache{cacheable: map[string]bool{}, pages: map[string][]byte{},
		escape: template.Must(template.New("").Parse("{{.}}"))}
	for _, p := range []*string{&c.ph.nonce, &c.ph.csrf, &c.ph.req, &c.ph.email} {
		var b [12]byte
		_, _ = rand.Read(b[:])
		*p = phPrefix + hex.EncodeToString(b[:])
	}
	return c
}

// selfCheck marks the pages whose cached rendering equals the direct one
// for data that exercises every placeholder. The sample address holds
// every character an HTML escaper changes that an address may hold ('='
// and '`' only an unquoted attribute's), so a page that escapes the
// address otherwise than HTML text is left uncached.
func (c *pageCache) selfCheck(r *Renderer) {
	for page := range r.pages {
		ok := true
		for _, hint := range []bool{false, true} {
			d := Data{Lang: defaultLang, Tenant: Branding{TenantID: "t", DisplayName: `T & "Co"`}, AppName: "App <1>",
				CSRF: "cSrF-_0123456789abcdef", Email: "a+b&c'd\"e<f>=g`h@x.example", LoginHint: hint,
				RequestID: "0f8e0a2c-1d2e-4f5a-9b8c-7d6e5f4a3b2c", Extra: map[string]string{"minutes": "30"}}
			d.Actions = sampleActions("/t/login", d.RequestID)
			const nonce = "n0nce-_AbC"
			direct, err := r.executeWith(page, d, nonce)
			if err != nil {
				ok = false
				break
			}
			if _, cacheable := c.appendKey(nil, page, &d); !cacheable {
				ok = false
				break
			}
			shape, err := r.executeWith(page, c.placeholders(d), c.ph.nonce)
			var filled bytes.Buffer
			if err == nil {
				c.fill(&filled, shape, &d, nonce)
			}
			if err != nil || !bytes.Equal(filled.Bytes(), direct) {
				ok = false
				break
			}
		}
		c.cacheable[page] = ok
	}
}

func sampleActions(base, id string) Actions {
	q := "?authRequestID=" + id
	return Actions{Email: base + "/email" + q, Send: base + "/send" + q, Verify: base + "/verify" + q,
		Resend: base + "/resend" + q, Restart: base + q + "&restart=1", Retry: base + q, Home: base + "/apps",
		Password: base + "/password" + q, Logout: base + "/logout"}
}

// urlSafe reports whether s is made of URL-safe base64 characters only,
// which every escaper leaves alone.
func urlSafe(s string) bool {
	for i := range len(s) {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// appendKey appends the cache key of page with d to b, and reports
// whether d may come from the cache at all: errors, notices and lists are
// rendered as they come. The key is built in the caller's reused buffer
// and a hit looks the page up without making a string of it: the string
// is made only for a page put in the cache.
func (c *pageCache) appendKey(b []byte, page string, d *Data) ([]byte, bool) {
	if d.FieldError != "" || d.Message != "" || len(d.MessageArgs) > 0 || (d.Status != 0 && d.Status != 200) ||
		len(d.Apps) > 0 || len(d.Hidden) > 0 || !urlSafe(d.CSRF) || !urlSafe(d.RequestID) {
		return b, false
	}
	for _, s := range [...]string{page, d.Lang, d.Tenant.TenantID, d.Tenant.DisplayName, d.Tenant.LogoURL,
		d.Tenant.AccentColor, d.AppName, d.Title, strconv.FormatBool(d.LoginHint), strconv.FormatBool(d.Email != ""),
		strconv.FormatBool(d.CSRF != "")} {
		b = c.appendField(b, s, d.RequestID)
	}
	for _, u := range d.Actions.urls() {
		b = c.appendField(b, *u, d.RequestID)
	}
	// The extra values in key order; a page has one or two of them, so
	// the array keeps their names off the heap.
	var arr [4]string
	keys := arr[:0]
	for k := range d.Extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b = append(b, k...)
		b = append(b, 1)
		b = append(b, d.Extra[k]...)
		b = append(b, 0)
	}
	return b, true
}

// appendField appends s to the key b with the request id replaced by
// its placeholder (as strings.ReplaceAll would), then a NUL.
func (c *pageCache) appendField(b []byte, s, requestID string) []byte {
	if requestID != "" {
		for {
			i := strings.Index(s, requestID)
			if i < 0 {
				break
			}
			b = append(b, s[:i]...)
			b = append(b, c.ph.req...)
			s = s[i+len(requestID):]
		}
	}
	b = append(b, s...)
	return append(b, 0)
}

// placeholders is d with its per-response values replaced.
func (c *pageCache) placeholders(d Data) Data {
	if d.RequestID != "" {
		for _, s := range d.Actions.urls() {
			*s = strings.ReplaceAll(*s, d.RequestID, c.ph.req)
		}
		d.RequestID = c.ph.req
	}
	if d.CSRF != "" {
		d.CSRF = c.ph.csrf
	}
	if d.Email != "" {
		d.Email = c.ph.email
	}
	return d
}

// renderTo renders page with d and nonce from the cache (filling it when
// it lacks the page) into rb.body, or reports ok false (rb.body
// untouched) when the page or d is not for the cache.
func (c *pageCache) renderTo(rb *renderBuf, r *Renderer, page string, d *Data, nonce string) (ok bool, err error) {
	if !c.cacheable[page] {
		return false, nil
	}
	rb.key, ok = c.appendKey(rb.key[:0], page, d)
	if !ok {
		return false, nil
	}
	shape, hit := c.get(rb.key)
	if !hit {
		if shape, err = r.executeWith(page, c.placeholders(*d), c.ph.nonce); err != nil {
			return true, err
		}
		c.put(string(rb.key), shape)
	}
	rb.body.Reset()
	c.fill(&rb.body, shape, d, nonce)
	return true, nil
}

// fill writes a cached page with the response's values put in to out.
// Every placeholder starts with phPrefix, which the loop finds with
// bytes.Index (a generic strings.Replacer took twice as long as the rest
// of the response).
func (c *pageCache) fill(out *bytes.Buffer, shape []byte, d *Data, nonce string) {
	email := d.Email
	if strings.ContainsAny(email, "\x00\"&'+<>") {
		var e strings.Builder
		_ = c.escape.Execute(&e, email)
		email = e.String()
	}
	pairs := [...][2]string{{c.ph.nonce, nonce}, {c.ph.csrf, d.CSRF}, {c.ph.req, d.RequestID}, {c.ph.email, email}}
	out.Grow(len(shape) + 2*len(email) + 64)
	for rest := shape; ; {
		i := bytes.Index(rest, []byte(phPrefix))
		if i < 0 {
			out.Write(rest)
			return
		}
		out.Write(rest[:i])
		rest = rest[i:]
		n := len(phPrefix) // not a placeholder after all: copied as it is
		val := phPrefix
		for _, p := range pairs {
			if bytes.HasPrefix(rest, []byte(p[0])) {
				n, val = len(p[0]), p[1]
				break
			}
		}
		out.WriteString(val)
		rest = rest[n:]
	}
}

// get looks key up; the conversion in the index makes no string.
func (c *pageCache) get(key []byte) ([]byte, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	b, ok := c.pages[string(key)]
	return b, ok
}

func (c *pageCache) put(key string, shape []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.pages[key]; ok || c.bytes+len(shape)+len(key) > maxCached {
		return
	}
	c.pages[key] = shape
	c.bytes += len(shape) + len(key)
}
