package op

import (
	"mime"
	"net/http"
	"net/url"
)

// secretParams may carry a credential: never accepted in a URL query,
// which ends up in access logs, proxies and browser history (RFC 6749
// §2.3.1 and §3.2, RFC 6750 §2.3, RFC 9700 §4.3).
var secretParams = []string{"client_secret", "code", "code_verifier", "refresh_token", "token", "access_token",
	"client_assertion", "password"}

// readForm accepts only what RFC 6749 §3.2, RFC 7009 §2.1 and RFC 7662 §2.1
// allow: a POST with a form body, and no credential in the query.
func readForm(r *http.Request) (url.Values, *oauthError) {
	if r.Method != http.MethodPost {
		e := invalidRequest("use POST with an application/x-www-form-urlencoded body")
		e.status, e.allow = http.StatusMethodNotAllowed, http.MethodPost
		return nil, e
	}
	q := r.URL.Query()
	for _, p := range secretParams {
		if q.Has(p) {
			return nil, invalidRequest(p + " must not be sent in the URL query")
		}
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, invalidRequest("the body must be application/x-www-form-urlencoded")
	}
	if err := r.ParseForm(); err != nil {
		return nil, invalidRequest("malformed form body")
	}
	for k, v := range r.PostForm {
		if len(v) > 1 {
			// RFC 6749 §3.1: parameters must not be repeated.
			return nil, invalidRequest(k + " is repeated")
		}
	}
	return r.PostForm, nil
}

// authenticateClient authenticates the caller of the token, revocation or
// introspection endpoint by client_secret_basic or client_secret_post (one
// method only, RFC 6749 §2.3). A public client names itself with
// client_id and no secret; the caller decides whether that is enough.
// Every failure is 401 invalid_client (with a Basic challenge).
func (s *storage) authenticateClient(r *http.Request, form url.Values) (*client, *oauthError) {
	if form.Get("client_assertion") != "" || form.Get("client_assertion_type") != "" {
		return nil, invalidClient("client assertions are not supported")
	}
	id, secret, basic := r.BasicAuth()
	if basic {
		if form.Has("client_secret") {
			return nil, invalidRequest("use one client authentication method")
		}
		c, ok := s.basicClient(id, secret)
		if !ok {
			return nil, invalidClient("client authentication failed")
		}
		if fid := form.Get("client_id"); fid != "" && fid != c.cfg.ID {
			return nil, invalidRequest("client_id does not match the authenticated client")
		}
		return c, nil
	}
	id, secret = form.Get("client_id"), form.Get("client_secret")
	if id == "" {
		return nil, invalidClient("client authentication is required")
	}
	c, ok := s.clients[id]
	if !ok || !c.authenticates(secret) {
		return nil, invalidClient("client authentication failed")
	}
	return c, nil
}

// basicClient authenticates Basic credentials. RFC 6749 §2.3.1 has the
// client form-urlencode id and secret before Basic encoding, but many
// clients (curl -u, Python requests, most HTTP libraries) send them raw,
// and a base64 secret holds "+" and "/" (which decoding turns into a
// space, or rejects with "%"). So the decoded pair is tried and then the
// raw one. Both secret comparisons always run, each in constant time: the
// timing tells neither which form matched nor anything of the secret.
func (s *storage) basicClient(id, secret string) (*client, bool) {
	rawC, rawOK := s.basicPair(id, secret)
	did, err1 := url.QueryUnescape(id)
	dsecret, err2 := url.QueryUnescape(secret)
	if err1 != nil || err2 != nil {
		return rawC, rawOK
	}
	decC, decOK := s.basicPair(did, dsecret)
	if decOK {
		return decC, true
	}
	return rawC, rawOK
}

// basicPair authenticates one reading of Basic credentials.
func (s *storage) basicPair(id, secret string) (*client, bool) {
	c, ok := s.clients[id]
	if !ok || id == "" {
		return nil, false
	}
	return c, c.authenticates(secret)
}
