package pages

import (
	"crypto/rand"
	"encoding/base64"
	"math"
	"net/http"
	"net/url"
	"strings"
)

// baseCSP is the policy for responses that are not our pages (JSON errors,
// redirects): nothing may load, nothing may frame us.
const baseCSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"

// SecurityHeaders sets the headers every guestpass browser-facing response
// should carry. Render calls it and then replaces the CSP with the page's
// own (which adds the style nonce and the logo origin).
//
// Deliberately absent:
//   - form-action: Chromium checks form-action against every hop of the
//     redirect chain that follows a form POST, so "form-action 'self'" would
//     block the 303 from our code/password POST to the relying party's
//     redirect_uri on another origin. default-src does not cover
//     form-action, so forms are unrestricted; our pages run no script and
//     escape every value, so there is no injection to abuse it.
//   - Cross-Origin-Opener-Policy: popup sign-in (oidc-client-ts signinPopup
//     and friends) needs window.opener to survive our pages.
func SecurityHeaders(h http.Header) {
	hs := headerSet{h: h, vals: make([]string, 0, 5)}
	hs.security(baseCSP)
}

// headerSet sets a response's headers as http.Header's Set and Add do,
// but with one allocation for the values of them all, where Set makes a
// slice for each (ten headers a page). Each header gets a slice of vals
// capped at its own value, so that a later Add to it copies rather than
// writes into its neighbour's; nothing is shared between responses. Keys
// must be in canonical form, as Set would make them
// (TestRenderHeaderKeysCanonical).
type headerSet struct {
	h    http.Header
	vals []string
}

// set is h.Set(key, value).
func (s *headerSet) set(key, value string) {
	s.vals = append(s.vals, value)
	n := len(s.vals)
	s.h[key] = s.vals[n-1 : n : n]
}

// add is h.Add(key, value).
func (s *headerSet) add(key, value string) {
	if old := s.h[key]; len(old) > 0 {
		s.h[key] = append(old, value)
		return
	}
	s.set(key, value)
}

// security sets SecurityHeaders' headers with csp as the policy.
func (s *headerSet) security(csp string) {
	s.set("Content-Security-Policy", csp)
	s.set("X-Frame-Options", "DENY")
	s.set("X-Content-Type-Options", "nosniff")
	s.set("Referrer-Policy", "no-referrer")
	s.set("Cache-Control", "no-store")
}

// PageCSP is the Content-Security-Policy of a rendered page: styles only
// from the <style> element carrying nonce, images only from imgOrigin (the
// configured logo's https origin; "" allows no images).
func PageCSP(nonce, imgOrigin string) string {
	img := "'none'"
	if imgOrigin != "" {
		img = imgOrigin
	}
	return "default-src 'none'; style-src 'nonce-" + nonce + "'; img-src " + img +
		"; frame-ancestors 'none'; base-uri 'none'"
}

// newNonce returns 128 random bits, URL-safe base64 (valid in a CSP
// nonce-source and needs no escaping in an HTML attribute).
func newNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24 crashes instead)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// logoOrigin validates a configured logo URL: absolute https, a plain host,
// no credentials. It returns the URL to put in src and its origin for the
// CSP, or "", "" when the logo must not be shown. The check matters because
// the origin is written into a header, where "; script-src *" would be an
// injection.
func logoOrigin(raw string) (src, origin string) {
	raw = strings.TrimSpace(raw)
	if raw == "" || len(raw) > 2048 {
		return "", ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.User != nil || u.Host == "" || u.Opaque != "" {
		return "", ""
	}
	for _, c := range u.Host {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '-' || c == ':' || c == '[' || c == ']') {
			return "", ""
		}
	}
	return u.String(), "https://" + strings.ToLower(u.Host)
}

// defaultAccent is used when a tenant sets no accent colour or an invalid one.
const defaultAccent = "#0b5cad"

// accentColors validates a tenant's accent colour (#rgb or #rrggbb; it comes
// from config and goes into CSS) and picks black or white text for buttons,
// whichever contrasts more, so a pale brand colour stays readable.
func accentColors(c string) (accent, text string) {
	c = strings.TrimSpace(strings.ToLower(c))
	rgb, ok := parseHex(c)
	if !ok {
		c = defaultAccent
		rgb, _ = parseHex(c)
	}
	l := luminance(rgb)
	// Contrast with white is 1.05/(l+0.05), with black (l+0.05)/0.05.
	if 1.05/(l+0.05) >= (l+0.05)/0.05 {
		return c, "#ffffff"
	}
	return c, "#000000"
}

func parseHex(c string) ([3]float64, bool) {
	var rgb [3]float64
	if len(c) != 4 && len(c) != 7 || c[0] != '#' {
		return rgb, false
	}
	hex := c[1:]
	if len(hex) == 3 {
		hex = string([]byte{hex[0], hex[0], hex[1], hex[1], hex[2], hex[2]})
	}
	for i := 0; i < 3; i++ {
		hi, ok1 := hexVal(hex[2*i])
		lo, ok2 := hexVal(hex[2*i+1])
		if !ok1 || !ok2 {
			return rgb, false
		}
		rgb[i] = float64(hi<<4|lo) / 255
	}
	return rgb, true
}

func hexVal(b byte) (int, bool) {
	switch {
	case b >= '0' && b <= '9':
		return int(b - '0'), true
	case b >= 'a' && b <= 'f':
		return int(b-'a') + 10, true
	}
	return 0, false
}

// luminance is the WCAG relative luminance of an sRGB colour.
func luminance(rgb [3]float64) float64 {
	var lin [3]float64
	for i, v := range rgb {
		if v <= 0.03928 {
			lin[i] = v / 12.92
		} else {
			lin[i] = math.Pow((v+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*lin[0] + 0.7152*lin[1] + 0.0722*lin[2]
}
