package server_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// TestBrowserFormPost: in a real Chromium, the form_post page's script
// runs under the page's Content-Security-Policy (by its nonce) and posts
// the response to the app: the tab leaves the page for exactly the app's
// redirect_uri, without a query (the parameters travel in the body; what
// they are is checked by TestIssInEveryResponseMode). A policy that
// blocked the script would leave the tab on our page.
func TestBrowserFormPost(t *testing.T) {
	requireChromium(t)
	e := newEnv(t, envOptions{})
	tab := startBrowser(t)

	var mu sync.Mutex
	var landed string
	if err := chromedp.Listen(tab, func(ev any) {
		n, ok := ev.(*cdppage.EventFrameNavigated)
		if !ok || n.Frame == nil || n.Frame.ParentID != "" {
			return
		}
		u := n.Frame.URL
		if n.Frame.UnreachableURL != "" {
			u = n.Frame.UnreachableURL // nothing listens at the app (port 9)
		}
		if strings.HasPrefix(u, rpCallback) {
			mu.Lock()
			landed = u
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	// prompt=none without a session: login_required, form-posted.
	q := baseAuthQuery("portal", rpCallback)
	q.Set("prompt", "none")
	q.Set("response_mode", "form_post")
	_ = chromedp.Do(tab, chromedp.Navigate(authorizeURL(e, q))) // may end on Chromium's error page

	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		mu.Lock()
		u := landed
		mu.Unlock()
		if u != "" {
			if u != rpCallback {
				t.Fatalf("the form_post page went to %s, want exactly %s (a POST, no query)", u, rpCallback)
			}
			return
		}
		select {
		case <-tab.Done():
			loc, _ := chromedp.Run(tab, chromedp.Location())
			t.Fatal(fmt.Errorf("the form_post page never posted to the app (script blocked?); tab at %s: %w", loc, tab.Err()))
		case <-tick.C:
		}
	}
}
