package loadgen

import (
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"time"
)

// requestTimeout bounds one HTTP request of a browser.
const requestTimeout = 15 * time.Second

// newTransport is one browser's keep-alive connection pool. local, when
// set, is the source address: each browser its own 127.0.0.x, as distinct
// guests' machines would be, so that the limits per client IP see many
// clients and not one.
func newTransport(local net.IP) *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	if local != nil {
		d.LocalAddr = &net.TCPAddr{IP: local}
	}
	return &http.Transport{
		DialContext:         d.DialContext,
		MaxIdleConns:        16,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
	}
}

// spread sends each request to the next replica in turn (a load balancer
// without affinity): a sign-in's steps land on different replicas, so a
// code sent through one is checked through another. The request keeps its
// Host: every replica serves the same baseURL.
type spread struct {
	next     http.RoundTripper
	replicas []string // host:port
	// sent counts the requests sent to each replica (shared by every
	// browser of a run; nil: not counted).
	sent []atomic.Int64
	n    atomic.Uint64
}

func (s *spread) RoundTrip(req *http.Request) (*http.Response, error) {
	if len(s.replicas) < 2 {
		return s.next.RoundTrip(req)
	}
	i := s.n.Add(1) % uint64(len(s.replicas))
	if s.sent != nil {
		s.sent[i].Add(1)
	}
	r := req.Clone(req.Context())
	r.Host = req.URL.Host
	r.URL.Host = s.replicas[i]
	return s.next.RoundTrip(r)
}

// Page is an HTTP answer as a browser saw it.
type Page struct {
	Status int
	URL    string
	Header http.Header
	Body   string
}

// browser is one guest's browser: a cookie jar (replaced for each new
// sign-in) over a keep-alive client, following redirects by hand so that
// it stops at the relying party's redirect URI.
type browser struct {
	rt   http.RoundTripper
	c    *http.Client
	stop string // the redirect URI: nothing listens there
}

func newBrowser(rt http.RoundTripper, stopAt string) *browser {
	b := &browser{rt: rt, stop: stopAt}
	b.reset()
	return b
}

// reset forgets every cookie: the next sign-in is a new guest's.
func (b *browser) reset() {
	jar, _ := cookiejar.New(nil)
	b.c = &http.Client{
		Transport:     b.rt,
		Jar:           jar,
		Timeout:       requestTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func (b *browser) do(req *http.Request) (Page, error) {
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	resp, err := b.c.Do(req)
	if err != nil {
		return Page{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Page{}, fmt.Errorf("read %s: %w", req.URL, err)
	}
	return Page{Status: resp.StatusCode, URL: req.URL.String(), Header: resp.Header, Body: string(body)}, nil
}

func (b *browser) get(u string) (Page, error) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return Page{}, err
	}
	p, err := b.do(req)
	if err != nil {
		return p, err
	}
	return b.follow(p)
}

func (b *browser) post(u string, form url.Values) (Page, error) {
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return Page{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	p, err := b.do(req)
	if err != nil {
		return p, err
	}
	return b.follow(p)
}

// follow follows redirects until a page, or until the redirect URI, whose
// Page then has the final URL and no body.
func (b *browser) follow(p Page) (Page, error) {
	for i := 0; i < 10 && p.Status >= 300 && p.Status < 400; i++ {
		base, err := url.Parse(p.URL)
		if err != nil {
			return p, err
		}
		loc, err := url.Parse(p.Header.Get("Location"))
		if err != nil {
			return p, fmt.Errorf("redirect %q: %w", p.Header.Get("Location"), err)
		}
		next := base.ResolveReference(loc).String()
		if strings.HasPrefix(next, b.stop) {
			return Page{Status: p.Status, URL: next, Header: p.Header}, nil
		}
		req, err := http.NewRequest(http.MethodGet, next, nil)
		if err != nil {
			return p, err
		}
		if p, err = b.do(req); err != nil {
			return p, err
		}
	}
	return p, nil
}

var (
	formRe = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
	csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
)

// form returns the absolute action of the page's n-th POST form and the
// page's CSRF token.
func (p Page) form(n int) (string, string, error) {
	fs := formRe.FindAllStringSubmatch(p.Body, -1)
	cs := csrfRe.FindStringSubmatch(p.Body)
	if len(fs) <= n || cs == nil {
		return "", "", fmt.Errorf("page %s (%d) has no form %d with a CSRF field", p.URL, p.Status, n)
	}
	base, err := url.Parse(p.URL)
	if err != nil {
		return "", "", err
	}
	action, err := url.Parse(html.UnescapeString(fs[n][1]))
	if err != nil {
		return "", "", err
	}
	return base.ResolveReference(action).String(), html.UnescapeString(cs[1]), nil
}
