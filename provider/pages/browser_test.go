package pages

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/chromedp"
)

// browserCtx starts a private headless Chromium, or skips when none is
// installed.
func browserCtx(t *testing.T) context.Context {
	t.Helper()
	var execPath string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			execPath = p
			break
		}
	}
	if execPath == "" {
		t.Skip("no Chromium installed")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(execPath),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1024, 900),
	)
	// Generous: a cold Chromium start on a loaded 2-core machine is slow; this
	// only bounds a hang, it asserts nothing about speed.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	return bctx
}

// TestBrowserFlow drives the real pages in Chromium: the nonce'd styles load
// under the CSP (no violation reported), focus lands on the code field, and
// — the reason form-action is absent — a POST answered by a 303 chain that
// ends on the relying party's origin is followed.
func TestBrowserFlow(t *testing.T) {
	r := newRenderer(t)

	rp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		fmt.Fprintf(w, "<!doctype html><title>rp</title><p id=arrived>arrived %s</p>", req.URL.Query().Get("code"))
	}))
	t.Cleanup(rp.Close)

	var mu sync.Mutex
	var posted string
	mux := http.NewServeMux()
	data := func() Data {
		d := fullData()
		d.Message = ""
		d.Tenant.LogoURL = ""
		d.Actions.Verify = "/verify"
		return d
	}
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, req *http.Request) {
		r.Render(w, req, PageCode, data())
	})
	mux.HandleFunc("POST /verify", func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		posted = req.PostFormValue("code") + "|" + req.PostFormValue("csrf")
		mu.Unlock()
		SecurityHeaders(w.Header())
		// Straight to the app, as the OP does: the pages' CSP must let the
		// form's answer leave for another origin.
		http.Redirect(w, req, rp.URL+"/callback?code=xyz", http.StatusSeeOther)
	})
	for _, p := range requiredPages {
		mux.HandleFunc("GET /page/"+p, func(w http.ResponseWriter, req *http.Request) {
			d := fullData()
			if p == PageError {
				d.Message = "otp_disabled"
			}
			if req.URL.Query().Get("err") != "" {
				d.FieldError = "code_invalid"
			}
			r.Render(w, req, p, d)
		})
	}
	mux.HandleFunc("GET /control", func(w http.ResponseWriter, req *http.Request) {
		SecurityHeaders(w.Header())
		w.Header().Set("Content-Security-Policy", PageCSP(newNonce(), ""))
		fmt.Fprint(w, "<!doctype html><title>control</title><style>h1{color:red}</style><h1>control</h1>")
	})
	idp := httptest.NewServer(mux)
	t.Cleanup(idp.Close)

	ctx := browserCtx(t)
	// CSP violations show up as Log entries ("Refused to apply inline
	// style because it violates the following Content Security Policy
	// directive ..."), with the page's URL.
	var cspMu sync.Mutex
	var violations []string
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*log.EventEntryAdded); ok && e.Entry != nil &&
			strings.Contains(e.Entry.Text, "Content Security Policy") {
			cspMu.Lock()
			violations = append(violations, e.Entry.URL+": "+e.Entry.Text)
			cspMu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, log.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}

	eval := func(js string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("evaluate %s: %v", js, err)
		}
		return v
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(idp.URL+"/login"),
		chromedp.WaitVisible(chromedp.ID("code")),
	); err != nil {
		t.Fatalf("browser: %v", err)
	}
	bg := eval(`getComputedStyle(document.querySelector("form button")).backgroundColor`)
	// Autofocus is applied after the element is visible, once the document
	// has loaded, and later still on a loaded machine: wait for it, within
	// the test's budget, as the other checks wait on content. A page
	// without autofocus, or focusing elsewhere, still fails: the poll gives
	// up after 30 s (leaving ctx time to read and report the focus seen).
	focused := "code"
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](
		`document.activeElement !== null && document.activeElement.id === "code"`,
		chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		focused = eval(`document.activeElement ? document.activeElement.id : ""`)
	}
	lang := eval(`document.documentElement.lang`)
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("code"), "1234 5678"),
		chromedp.Click(chromedp.CSS(`form[action="/verify"] button`)),
		chromedp.WaitVisible(chromedp.ID("arrived")),
	); err != nil {
		t.Fatalf("browser: %v", err)
	}
	arrived, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("arrived")))
	if err != nil {
		t.Fatal(err)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if bg != "rgb(11, 92, 173)" {
		t.Errorf("button background %q: the nonce'd <style> did not apply", bg)
	}
	if focused != "code" {
		t.Errorf("focus on %q, want the code input", focused)
	}
	if lang != "en" {
		t.Errorf("lang %q", lang)
	}
	if arrived != "arrived xyz" || !strings.HasPrefix(loc, rp.URL+"/callback") {
		t.Errorf("redirect to the app not followed: at %s, %q", loc, arrived)
	}
	mu.Lock()
	if posted != "1234 5678|csrf-token-value" {
		t.Errorf("posted %q", posted)
	}
	mu.Unlock()

	// Every page, also with a field error, loads without a CSP report.
	// Screenshots are kept when GUESTPASS_PAGES_SCREENSHOT_DIR names a directory.
	shots := os.Getenv("GUESTPASS_PAGES_SCREENSHOT_DIR")
	for _, p := range requiredPages {
		for _, q := range []string{"", "?err=1"} {
			if err := chromedp.Do(ctx,
				chromedp.Navigate(idp.URL+"/page/"+p+q),
				chromedp.WaitVisible(chromedp.CSS("h1")),
			); err != nil {
				t.Fatalf("%s%s: %v", p, q, err)
			}
			if shots != "" {
				buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
				if err != nil {
					t.Fatal(err)
				}
				name := p + map[string]string{"": "", "?err=1": "-error"}[q] + ".png"
				if err := os.WriteFile(filepath.Join(shots, name), buf, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	// Control: a style without the nonce is refused and reported. Waiting
	// for that report also flushes any earlier one (events arrive in order).
	if err := chromedp.Do(ctx, chromedp.Navigate(idp.URL+"/control")); err != nil {
		t.Fatal(err)
	}
	for {
		cspMu.Lock()
		seen := slices.ContainsFunc(violations, func(v string) bool { return strings.Contains(v, "/control") })
		cspMu.Unlock()
		if seen {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the control page's CSP violation was never reported")
		case <-time.After(50 * time.Millisecond):
		}
	}
	cspMu.Lock()
	defer cspMu.Unlock()
	for _, v := range violations {
		if !strings.Contains(v, "/control") {
			t.Errorf("CSP violation: %s", v)
		}
	}
}
