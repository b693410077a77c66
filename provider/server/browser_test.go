package server_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// chromiumPath is fixed rather than searched for, so that CI runs exactly
// the browser its image installs and a developer's stray Chrome is not
// picked up by accident.
const chromiumPath = "/usr/bin/chromium"

// browserBudget bounds the whole browser part of a test (start, every page,
// shutdown wait excluded). It asserts nothing about speed: it only turns a
// hang into a failure.
const browserBudget = 60 * time.Second

// requireChromium skips without a Chromium, except on CI, where a missing
// browser would silently drop the only test of the real pages in a real
// browser.
func requireChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set but %s is missing (%v): install chromium so the browser test runs", chromiumPath, err)
		}
		t.Skipf("%s not installed; skipping the browser test (set CI to make this a failure)", chromiumPath)
	}
}

// startBrowser starts a private headless Chromium with exactly the flags
// below (no chromedp defaults), and returns its first tab.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		// A fixed window makes the committed screenshots reproducible;
		// hidden scrollbars keep them free of platform chrome.
		chromedp.WindowSize(900, 760),
		chromedp.Flag("hide-scrollbars", true),
	}
	ctx, cancel := context.WithTimeout(context.Background(), browserBudget)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel) // waits for the browser to exit, before TempDir removal
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	// Start the browser now, so a failure to launch is reported as such.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start %s: %v", chromiumPath, err)
	}
	return bctx
}

// speak makes every request of the tab ask for one language, so the run
// does not depend on the machine's locale.
func speak(t *testing.T, ctx context.Context, acceptLanguage string) {
	t.Helper()
	if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders,
		network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": acceptLanguage}}); err != nil {
		t.Fatalf("set Accept-Language: %v", err)
	}
}

// shots writes full-page PNGs to a temp dir, and also to docs/screenshots
// when GUESTPASS_SCREENSHOTS=1 (to regenerate the committed ones).
type shots struct {
	t    *testing.T
	dirs []string
}

func newShots(t *testing.T) *shots {
	s := &shots{t: t, dirs: []string{t.TempDir()}}
	if os.Getenv("GUESTPASS_SCREENSHOTS") == "1" {
		// go test runs in the package directory: provider/server.
		dir := filepath.Join("..", "..", "docs", "screenshots")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		s.dirs = append(s.dirs, dir)
	}
	t.Logf("screenshots in %s", strings.Join(s.dirs, ", "))
	return s
}

// take screenshots the tab; committed says whether the shot belongs in
// docs/screenshots or only in the temp dir.
func (s *shots) take(ctx context.Context, name string, committed bool) {
	s.t.Helper()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		s.t.Fatalf("screenshot %s: %v", name, err)
	}
	dirs := s.dirs
	if !committed {
		dirs = dirs[:1]
	}
	for _, d := range dirs {
		if err := os.WriteFile(filepath.Join(d, name), buf, 0o644); err != nil {
			s.t.Fatal(err)
		}
	}
}

// callbackWatch records when the tab's main frame lands on the relying
// party's callback. Nothing listens there (and Chromium refuses port 9
// anyway), so the document that follows is Chromium's error page, whose
// location is chrome-error://chromewebdata/: the navigation event, which
// carries the URL the frame was sent to, is the reliable sign.
type callbackWatch struct {
	mu  sync.Mutex
	url string
}

func watchCallback(t *testing.T, ctx context.Context) *callbackWatch {
	t.Helper()
	w := &callbackWatch{}
	err := chromedp.Listen(ctx, func(ev any) {
		e, ok := ev.(*cdppage.EventFrameNavigated)
		if !ok || e.Frame == nil || e.Frame.ParentID != "" {
			return
		}
		u := e.Frame.URL
		if e.Frame.UnreachableURL != "" {
			u = e.Frame.UnreachableURL
		}
		if strings.HasPrefix(u, rpCallback+"?") {
			w.mu.Lock()
			if w.url == "" {
				w.url = u
			}
			w.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// wait polls until the main frame reached the callback, within the
// browser's budget.
func (w *callbackWatch) wait(ctx context.Context) (string, error) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		w.mu.Lock()
		u := w.url
		w.mu.Unlock()
		if u != "" {
			return u, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("the browser never reached %s: %w", rpCallback, ctx.Err())
		case <-tick.C:
		}
	}
}

// clearField empties an input, whatever the page pre-filled or kept.
func clearField(id string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](`((e) => { e.value = ""; return true })(document.getElementById("`+id+`"))`)(ctx, t)
		return err
	})
}

func evalString(t *testing.T, ctx context.Context, js string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// step runs browser actions, naming the step in the failure together
// with where the browser is and what it shows.
func step(t *testing.T, ctx context.Context, name string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		t.Fatalf("%s: %v\nat %s:\n%s", name, err, loc, body)
	}
}

// TestBrowserSignIn signs a guest in through the real pages in headless
// Chromium — typing, clicking, the browser's own redirects and cookies —
// and keeps a screenshot of every page. Then a French browser shows the
// email page translated.
func TestBrowserSignIn(t *testing.T) {
	requireChromium(t)
	e := newEnv(t, envOptions{})
	const email = "grace@guest.example"
	g := invite(t, e, "fabrikam", email, "Grace Hopper")
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	s := newShots(t)

	browser := startBrowser(t)
	tab := browser
	speak(t, tab, "en-GB,en;q=0.9")
	cb := watchCallback(t, tab)

	// 1. The email page.
	step(t, tab, "email page",
		chromedp.Navigate(r.authURL()),
		chromedp.WaitVisible(chromedp.ID("email")),
	)
	if lang := evalString(t, tab, `document.documentElement.lang`); lang != "en" {
		t.Errorf("email page lang = %q, want en", lang)
	}
	if h1 := evalString(t, tab, `document.querySelector("h1").innerText`); h1 != "Sign in to Fabrikam" {
		t.Errorf("email page h1 = %q", h1)
	}
	s.take(tab, "01-email.png", true)

	// 2. An invalid address: the page comes back with the error tied to
	// the field, and the focus on it.
	step(t, tab, "invalid address",
		chromedp.SendKeys(chromedp.ID("email"), "grace@"),
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("email-error")),
	)
	if got := evalString(t, tab, `document.getElementById("email").getAttribute("aria-invalid") || ""`); got != "true" {
		t.Errorf("email input aria-invalid = %q after an invalid address", got)
	}
	if got := evalString(t, tab, `document.activeElement ? document.activeElement.id : ""`); got != "email" {
		t.Errorf("focus on %q after an invalid address, want the email input", got)
	}
	s.take(tab, "02-email-error.png", true)

	// 3. The send page: nothing is mailed until the guest asks.
	step(t, tab, "send page",
		clearField("email"),
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action*="/login/send"] button`)),
	)
	if n := len(e.smtp.Messages()); n != 0 {
		t.Fatalf("%d mails sent before Send code", n)
	}
	if body := evalString(t, tab, `document.querySelector("main").innerText`); !strings.Contains(body, email) {
		t.Errorf("send page does not name %s:\n%s", email, body)
	}
	s.take(tab, "03-send.png", true)

	// 4. The code page.
	step(t, tab, "code page",
		chromedp.Click(chromedp.CSS(`form[action*="/login/send"] button`)),
		chromedp.WaitVisible(chromedp.ID("code")),
	)
	code := waitCode(t, e.smtp, email)
	if got := evalString(t, tab, `document.activeElement ? document.activeElement.id : ""`); got != "code" {
		t.Errorf("focus on %q on the code page, want the code input", got)
	}
	s.take(tab, "04-code.png", true)

	// 5. A wrong code (the right one with its first digit changed).
	wrong := string('0'+(code[0]-'0'+1)%10) + code[1:]
	step(t, tab, "wrong code",
		chromedp.SendKeys(chromedp.ID("code"), wrong),
		chromedp.Click(chromedp.CSS(`form[action*="/login/verify"] button`)),
		chromedp.WaitVisible(chromedp.ID("code-error")),
	)
	s.take(tab, "05-code-error.png", true)

	// 6. The right code: the browser follows the OP's redirects to the app.
	step(t, tab, "right code",
		clearField("code"),
		chromedp.SendKeys(chromedp.ID("code"), code),
		chromedp.Click(chromedp.CSS(`form[action*="/login/verify"] button`)),
	)
	loc, err := cb.wait(tab)
	if err != nil {
		t.Fatal(err)
	}
	// The error page has committed (the frame navigated); let it load
	// before the last screenshot.
	step(t, tab, "final page", chromedp.WaitReady(chromedp.CSS("body")))
	s.take(tab, "07-final.png", false) // Chromium's error page for 127.0.0.1:9: not ours to commit

	_, idt := r.callback(t, e, "fabrikam", page{status: 303, url: loc})
	var claims struct {
		Email string `json:"email"`
		Name  string `json:"name"`
		TID   string `json:"tid"`
		IDP   string `json:"idp"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if idt.Subject != g.ID || claims.Email != email || claims.Name != "Grace Hopper" || claims.TID != "fabrikam" || claims.IDP != "otp" {
		t.Fatalf("id token sub=%q claims=%+v, want sub %q", idt.Subject, claims, g.ID)
	}
	if n := len(e.smtp.Messages()); n != 1 {
		t.Errorf("%d mails sent, want 1", n)
	}

	// A French browser: a fresh browser context (no session cookie, so
	// the pages show again) in the same Chromium.
	fr, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	defer cancel()
	speak(t, fr, "fr-FR,fr;q=0.9")
	rfr := newRP(t, e, "fabrikam", "portal", "portal-secret")
	step(t, fr, "French email page",
		chromedp.Navigate(rfr.authURL()),
		chromedp.WaitVisible(chromedp.ID("email")),
	)
	if lang := evalString(t, fr, `document.documentElement.lang`); lang != "fr" {
		t.Errorf("French email page lang = %q", lang)
	}
	if h1 := evalString(t, fr, `document.querySelector("h1").innerText`); h1 != "Se connecter à Fabrikam" {
		t.Errorf("French email page h1 = %q", h1)
	}
	s.take(fr, "06-email-fr.png", true)
}
