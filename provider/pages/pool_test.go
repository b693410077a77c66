package pages

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"regexp"
	"strconv"
	"sync"
	"testing"

	"github.com/guestpass/guestpass/templates"
)

var styleNonce = regexp.MustCompile(`style-src 'nonce-([A-Za-z0-9_-]+)'`)

// Render reuses its buffers (key and body) across responses: pages of
// different sizes rendered at once, from the cache and not (a notice),
// each get exactly their own bytes, never a neighbour's or what an
// earlier, longer page left in the buffer.
func TestPooledBuffersNeverMixPages(t *testing.T) {
	r, err := New(templates.FS)
	if err != nil {
		t.Fatal(err)
	}
	type job struct {
		page string
		d    Data
	}
	var jobs []job
	for i := range 24 {
		tenant := []Branding{{TenantID: "contoso", DisplayName: "Contoso"}, {TenantID: "fab", DisplayName: `Fab & "Co"`, AccentColor: "#ffee00"}}[i%2]
		d := Data{Lang: allLangs[i%len(allLangs)], Tenant: tenant, AppName: fmt.Sprintf("App %d", i),
			CSRF: fmt.Sprintf("csrf-%d-%s", i, bytes.Repeat([]byte("x"), i)), Email: fmt.Sprintf("guest%d+%s@example.com", i, bytes.Repeat([]byte("y"), 3*i)),
			RequestID: fmt.Sprintf("6ba7b810-9dad-11d1-80b4-%012d", i), Extra: map[string]string{"minutes": strconv.Itoa(10 + i)}}
		d.Actions = sampleActions("/"+tenant.TenantID+"/login", d.RequestID)
		if i%5 == 0 {
			d.Message = MsgCooldown // not from the cache
			d.MessageArgs = []any{"retryAfter", i}
		}
		jobs = append(jobs, job{[]string{PageEmail, PageSend, PageCode, PagePassword}[i%4], d})
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(jobs)*20)
	for g := range 8 {
		wg.Go(func() {
			for n := range 60 {
				j := jobs[(g*7+n)%len(jobs)]
				w := httptest.NewRecorder()
				r.Render(w, httptest.NewRequest(http.MethodGet, "/", nil), j.page, j.d)
				m := styleNonce.FindStringSubmatch(w.Header().Get("Content-Security-Policy"))
				if m == nil {
					errs <- fmt.Errorf("%s: no nonce in %q", j.page, w.Header().Get("Content-Security-Policy"))
					return
				}
				want, err := r.executeWith(j.page, j.d, m[1])
				if err != nil {
					errs <- err
					return
				}
				if got := w.Body.Bytes(); !bytes.Equal(got, want) {
					errs <- fmt.Errorf("%s for %s: the page differs from its own rendering:\n%s\n---\n%s", j.page, j.d.Email, got, want)
					return
				}
				if cl := w.Header().Get("Content-Length"); cl != strconv.Itoa(len(want)) {
					errs <- fmt.Errorf("%s: Content-Length %s for %d bytes", j.page, cl, len(want))
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

// Render sets its headers straight into the map, as Set would: in
// canonical form, one value each, Vary added to what the handler set.
func TestRenderHeaderKeysCanonical(t *testing.T) {
	r := newRenderer(t)
	w := httptest.NewRecorder()
	w.Header().Set("Vary", "Cookie")
	d := fullData()
	d.Status, d.Extra = http.StatusTooManyRequests, map[string]string{"retryAfter": "42"}
	r.Render(w, httptest.NewRequest(http.MethodGet, "/", nil), PageCode, d)
	h := w.Result().Header
	for k, v := range h {
		if k != textproto.CanonicalMIMEHeaderKey(k) {
			t.Errorf("header %q is not in canonical form", k)
		}
		if k != "Vary" && len(v) != 1 {
			t.Errorf("header %s has %d values %q", k, len(v), v)
		}
	}
	for _, k := range []string{"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy",
		"Cache-Control", "Content-Type", "Content-Language", "Content-Length", "Retry-After"} {
		if h.Get(k) == "" {
			t.Errorf("no %s", k)
		}
	}
	if got := h.Values("Vary"); len(got) != 2 || got[0] != "Cookie" || got[1] != "Accept-Language" {
		t.Errorf("Vary = %q", got)
	}
}

// A headerSet's values share one array; adding to one header must not
// write over the next header's value.
func TestHeaderSetAddDoesNotOverwriteNeighbours(t *testing.T) {
	h := http.Header{}
	hs := headerSet{h: h, vals: make([]string, 0, 4)}
	hs.set("A", "1")
	hs.set("B", "2")
	hs.add("A", "1b")
	h.Add("A", "1c")
	hs.set("C", "3")
	if got := h.Values("A"); len(got) != 3 || got[0] != "1" || got[1] != "1b" || got[2] != "1c" {
		t.Errorf("A = %q", got)
	}
	if got := h.Values("B"); len(got) != 1 || got[0] != "2" {
		t.Errorf("B = %q", got)
	}
	if got := h.Values("C"); len(got) != 1 || got[0] != "3" {
		t.Errorf("C = %q", got)
	}
}
