package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/guestpass/guestpass/pkg/config"
	"github.com/guestpass/guestpass/pkg/guests"
	"github.com/guestpass/guestpass/pkg/store/redistest"
)

// The admin API (PRODUCT.md B5, "Admin API contract") over real HTTP.

// adminAPI calls one tenant's admin API with a bearer token.
type adminAPI struct {
	t      testing.TB
	base   string // {issuer}/admin/v1
	token  string
	header http.Header
}

func newAdminAPI(t testing.TB, e *env, tenant, token string) *adminAPI {
	return &adminAPI{t: t, base: e.issuer(tenant) + "/admin/v1", token: token}
}

type apiAnswer struct {
	status int
	header http.Header
	body   []byte
}

func (a apiAnswer) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.body, &m); err != nil {
		t.Fatalf("answer %d is not a JSON object: %v\n%s", a.status, err, a.body)
	}
	return m
}

// errorCode checks the contract's error body and returns its code.
func (a apiAnswer) errorCode(t testing.TB) string {
	t.Helper()
	var b struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal(a.body, &b); err != nil || b.Error.Code == "" || b.Error.Message == "" {
		t.Fatalf("error body %d is not {\"error\":{\"code\",\"message\"}}: %s", a.status, a.body)
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error Content-Type %q", ct)
	}
	return b.Error.Code
}

func (a apiAnswer) message(t testing.TB) string {
	t.Helper()
	var b struct {
		Error struct{ Message string } `json:"error"`
	}
	if err := json.Unmarshal(a.body, &b); err != nil {
		t.Fatal(err)
	}
	return b.Error.Message
}

func (c *adminAPI) do(method, path, body string) apiAnswer {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return apiAnswer{status: resp.StatusCode, header: resp.Header, body: b}
}

func (c *adminAPI) must(method, path, body string, status int) apiAnswer {
	c.t.Helper()
	a := c.do(method, path, body)
	if a.status != status {
		c.t.Fatalf("%s %s: %d, want %d:\n%s", method, path, a.status, status, a.body)
	}
	return a
}

type apiGuest struct {
	ID, Email, DisplayName, State, Source string
	InvitedAt, RedeemedAt, LastSignInAt   string
}

func (c *adminAPI) invite(email string, extra string) (apiGuest, string, int) {
	c.t.Helper()
	body := `{"email":` + jsonString(email) + `,"sendMail":false` + extra + `}`
	a := c.do(http.MethodPost, "/invitations", body)
	if a.status != http.StatusCreated && a.status != http.StatusOK {
		c.t.Fatalf("invite %s: %d\n%s", email, a.status, a.body)
	}
	var out struct {
		Guest     apiGuest
		RedeemURL string
	}
	if err := json.Unmarshal(a.body, &out); err != nil {
		c.t.Fatal(err)
	}
	return out.Guest, out.RedeemURL, a.status
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// userToken signs email in at the tenant through the portal app and
// returns the user's access token.
func userToken(t *testing.T, e *env, tenant, client, secret, email string) string {
	t.Helper()
	r := newRP(t, e, tenant, client, secret)
	tok, _ := r.callback(t, e, tenant, signIn(t, e, newBrowser(t), r.authURL(), email))
	return tok.AccessToken
}

// Every token that is not a live client_credentials token of an admin
// client of this tenant is refused, with WWW-Authenticate and the JSON
// error body; the admin's own token works until it expires or is revoked.
func TestAdminAuthorisationMatrix(t *testing.T) {
	e := newEnv(t, envOptions{redis: redistest.Start(t)})
	good := clientCredentials(t, e, "fabrikam", "admin", "admin-secret")
	other := clientCredentials(t, e, "contoso", "admin", "contoso-admin-secret")
	invite(t, e, "fabrikam", "user@guest.example", "User")
	invite(t, e, "fabrikam", "user2@guest.example", "User 2")
	user := userToken(t, e, "fabrikam", "portal", "portal-secret", "user@guest.example")
	adminUser := userToken(t, e, "fabrikam", "admin", "admin-secret", "user2@guest.example")
	revoked := clientCredentials(t, e, "fabrikam", "admin", "admin-secret")
	revokeWith(t, e, "fabrikam", "admin", "admin-secret", revoked)

	cases := []struct {
		name, token string
		status      int
		code        string // WWW-Authenticate error ("" none)
	}{
		{"no token", "", http.StatusUnauthorized, ""},
		{"garbage", "not-a-jwt", http.StatusUnauthorized, "invalid_token"},
		{"another tenant's admin token", other, http.StatusUnauthorized, "invalid_token"},
		{"a user's token of a non-admin client", user, http.StatusForbidden, "insufficient_scope"},
		{"a user's token of the admin client", adminUser, http.StatusForbidden, "insufficient_scope"},
		{"revoked", revoked, http.StatusUnauthorized, "invalid_token"},
	}
	for _, c := range cases {
		for _, call := range [][2]string{{http.MethodGet, "/guests"}, {http.MethodPut, "/policy"}, {http.MethodPatch, "/guests"}} {
			a := newAdminAPI(t, e, "fabrikam", c.token).do(call[0], call[1], `{"emailOTP":{"enabled":false}}`)
			checkRefusal(t, c.name+" "+call[0]+" "+call[1], a, c.status, c.code)
		}
	}
	// Nothing a refused call asked for happened.
	api := newAdminAPI(t, e, "fabrikam", good)
	if p := api.must(http.MethodGet, "/policy", "", http.StatusOK).json(t); p["emailOTP"].(map[string]any)["from"] != "config" {
		t.Fatalf("a refused PUT changed the policy: %v", p)
	}
	// The admin's token at the other tenant is the other tenant's problem.
	checkRefusal(t, "fabrikam's token at contoso", newAdminAPI(t, e, "contoso", good).do(http.MethodGet, "/guests", ""),
		http.StatusUnauthorized, "invalid_token")
	// A token in the URL is refused even when valid.
	a := newAdminAPI(t, e, "fabrikam", "").do(http.MethodGet, "/guests?access_token="+url.QueryEscape(good), "")
	if a.status != http.StatusBadRequest {
		t.Fatalf("token in the query: %d", a.status)
	}
	// Expired: an hour later the same token is refused.
	e.clock.Advance(61 * time.Minute)
	checkRefusal(t, "expired", api.do(http.MethodGet, "/guests", ""), http.StatusUnauthorized, "invalid_token")
}

func checkRefusal(t *testing.T, name string, a apiAnswer, status int, code string) {
	t.Helper()
	if a.status != status {
		t.Fatalf("%s: %d, want %d:\n%s", name, a.status, status, a.body)
	}
	ch := a.header.Get("WWW-Authenticate")
	if !strings.HasPrefix(ch, "Bearer ") {
		t.Fatalf("%s: WWW-Authenticate %q", name, ch)
	}
	if code != "" && !strings.Contains(ch, `error="`+code+`"`) {
		t.Fatalf("%s: WWW-Authenticate %q lacks error=%q", name, ch, code)
	}
	got := a.errorCode(t)
	if code != "" && got != code {
		t.Fatalf("%s: error code %q, want %q", name, got, code)
	}
}

func revokeWith(t *testing.T, e *env, tenant, id, secret, token string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.issuer(tenant)+"/revoke", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
}

var rfc3339 = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)

// The contract's shapes: field names, RFC 3339 times, absent when unset,
// status codes, and the errors of bad requests.
func TestAdminContract(t *testing.T) {
	e := newEnv(t, envOptions{})
	api := newAdminAPI(t, e, "fabrikam", clientCredentials(t, e, "fabrikam", "admin", "admin-secret"))

	a := api.must(http.MethodPost, "/invitations", `{"email":"Ann@Guest.Example","displayName":"Ann","redirectURL":"https://app.example/welcome","sendMail":false}`, http.StatusCreated)
	m := a.json(t)
	g := m["guest"].(map[string]any)
	if !slices.Equal(sortedKeys(m), []string{"guest", "redeemURL"}) ||
		!slices.Equal(sortedKeys(g), []string{"displayName", "email", "id", "invitedAt", "source", "state"}) || g["source"] != "" {
		t.Fatalf("invitation answer keys: %v / %v", sortedKeys(m), sortedKeys(g))
	}
	if g["email"] != "Ann@guest.example" || g["state"] != "PendingAcceptance" || !rfc3339.MatchString(g["invitedAt"].(string)) {
		t.Fatalf("guest: %v", g)
	}
	link := m["redeemURL"].(string)
	if !strings.HasPrefix(link, e.issuer("fabrikam")+"/redeem/") || len(link) < len(e.issuer("fabrikam"))+40 {
		t.Fatalf("redeemURL %q", link)
	}
	id := g["id"].(string)

	// Re-inviting (any case of the address): 200, same guest, a new link.
	g2, link2, status := api.invite("ann@guest.example", "")
	if status != http.StatusOK || g2.ID != id || link2 == link {
		t.Fatalf("re-invite: %d %v %q", status, g2, link2)
	}
	got := api.must(http.MethodGet, "/guests/"+id, "", http.StatusOK).json(t)
	if got["id"] != id || got["displayName"] != "Ann" {
		t.Fatalf("get: %v", got)
	}
	// A sign-in fills redeemedAt, lastSignInAt and source.
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	r.callback(t, e, "fabrikam", signIn(t, e, newBrowser(t), r.authURL(), "ann@guest.example"))
	got = api.must(http.MethodGet, "/guests/"+id, "", http.StatusOK).json(t)
	if got["state"] != "Accepted" || got["source"] != "otp" || !rfc3339.MatchString(got["redeemedAt"].(string)) ||
		!rfc3339.MatchString(got["lastSignInAt"].(string)) {
		t.Fatalf("after sign-in: %v", got)
	}
	// Reset: source cleared, id kept.
	got = api.must(http.MethodPost, "/guests/"+id+"/reset", "", http.StatusOK).json(t)
	if got["id"] != id || got["source"] != "" || got["state"] != "PendingAcceptance" || got["redeemedAt"] != nil {
		t.Fatalf("after reset: %v", got)
	}
	// Delete: 204, then 404 everywhere.
	if a := api.must(http.MethodDelete, "/guests/"+id, "", http.StatusNoContent); len(a.body) != 0 {
		t.Fatalf("204 with a body: %q", a.body)
	}
	for _, c := range [][2]string{{http.MethodGet, "/guests/" + id}, {http.MethodDelete, "/guests/" + id}, {http.MethodPost, "/guests/" + id + "/reset"}, {http.MethodGet, "/nothing"}} {
		if code := api.must(c[0], c[1], "", http.StatusNotFound).errorCode(t); code != "not_found" {
			t.Fatalf("%v: code %q", c, code)
		}
	}
	// Wrong method: 405 with Allow.
	a = api.must(http.MethodPut, "/guests", "", http.StatusMethodNotAllowed)
	if a.header.Get("Allow") != "GET" {
		t.Fatalf("Allow %q", a.header.Get("Allow"))
	}
	if a = api.must(http.MethodGet, "/invitations", "", http.StatusMethodNotAllowed); a.header.Get("Allow") != "POST" {
		t.Fatalf("Allow %q", a.header.Get("Allow"))
	}
	// Bad bodies: 400 with a message that says what is wrong.
	for body, want := range map[string]string{
		``:                              "empty",
		`{"email":`:                     "not valid JSON",
		`{"email":"a@b.example","x":1}`: `unknown field "x"`,
		`{"email":"a@b.example"} {}`:    "exactly one JSON object",
		`{"email":5}`:                   `"email" must be a JSON string`,
		`{"email":"not an address"}`:    "email:",
		`{"email":"a@b.example","redirectURL":"http://evil.example/"}`:                "http is allowed only on a loopback host",
		`{"email":"a@b.example","redirectURL":"https://x@evil.example/"}`:             "user name",
		`{"email":"a@b.example","redirectURL":"/relative"}`:                           "absolute https URL",
		`{"email":"a@b.example","locale":"de"}`:                                       "locale",
		`{"email":"a@b.example","displayName":"Ann\u001b[2J"}`:                        "control character U+001B at byte 3",
		`{"email":"a@b.example","displayName":"Ann\u009b"}`:                           "control character U+009B",
		`{"email":"a@b.example","displayName":"a\nb"}`:                                "control character U+000A",
		"{\"email\":\"a@b.example\",\"displayName\":\"Ann\xff\"}":                     "valid UTF-8",
		`{"email":"a@b.example","displayName":"` + strings.Repeat("x", 70<<10) + `"}`: "larger than 65536 bytes",
	} {
		a := api.must(http.MethodPost, "/invitations", body, http.StatusBadRequest)
		if a.errorCode(t) != "invalid_request" || !strings.Contains(a.message(t), want) {
			t.Errorf("body %.60q: %s (want %q)", body, a.body, want)
		}
	}
	if _, _, status := api.invite("loop@guest.example", `,"redirectURL":"http://127.0.0.1:5555/in"`); status != http.StatusCreated {
		t.Fatalf("loopback http redirect refused")
	}
	// Guests list: its shape, and empty lists as [] not null.
	l := api.must(http.MethodGet, "/guests?source=nobody", "", http.StatusOK)
	if strings.TrimSpace(string(l.body)) != `{"guests":[],"nextPageToken":""}` {
		t.Fatalf("empty list: %s", l.body)
	}
	for _, q := range []string{"?pageSize=0", "?pageSize=201", "?pageSize=x", "?state=Gone", "?pageToken=!!!", "?pageToken=Zm9v"} {
		api.must(http.MethodGet, "/guests"+q, "", http.StatusBadRequest).errorCode(t)
	}
	// Every change left an audit line without an address.
	audits := e.logs.FilterMessage("admin audit").All()
	var actions []string
	for _, l := range audits {
		actions = append(actions, l.ContextMap()["action"].(string))
		for k, v := range l.ContextMap() {
			if s, ok := v.(string); ok && strings.Contains(s, "@") {
				t.Fatalf("audit line carries an address in %s: %v", k, l.ContextMap())
			}
		}
		if id, _ := l.ContextMap()["request_id"].(string); id == "" {
			t.Fatalf("audit line without the request id: %v", l.ContextMap())
		}
		if l.ContextMap()["client"] != "admin" {
			t.Fatalf("audit line without the client: %v", l.ContextMap())
		}
	}
	if !slices.Equal(actions, []string{"invite", "reinvite", "reset", "delete", "invite"}) {
		t.Fatalf("audit actions %v", actions)
	}
}

func sortedKeys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Paging walks every guest exactly once, with and without filters, in
// pages of the asked size.
func TestAdminPaging(t *testing.T) {
	e := newEnv(t, envOptions{redis: redistest.Start(t)})
	api := newAdminAPI(t, e, "fabrikam", clientCredentials(t, e, "fabrikam", "admin", "admin-secret"))
	repo := guests.NewRepo(e.store, e.cfg.Secrets.Code, e.clock.Now).For("fabrikam")
	want := map[string][]string{} // filter query → ids
	for i := range 23 {
		addr := "p" + string(rune('a'+i)) + "@guest.example"
		g, _, _ := api.invite(addr, "")
		want[""] = append(want[""], g.ID)
		switch i % 3 {
		case 1:
			if _, err := repo.RecordSignIn(context.Background(), addr, guests.SignIn{Email: addr, Source: "otp"}); err != nil {
				t.Fatal(err)
			}
			want["source=otp"] = append(want["source=otp"], g.ID)
			want["state=Accepted"] = append(want["state=Accepted"], g.ID)
			want["source=otp&state=Accepted"] = append(want["source=otp&state=Accepted"], g.ID)
		case 2:
			if _, err := repo.RecordSignIn(context.Background(), addr, guests.SignIn{Email: addr, Source: "google"}); err != nil {
				t.Fatal(err)
			}
			want["state=Accepted"] = append(want["state=Accepted"], g.ID)
		default:
			want["state=PendingAcceptance"] = append(want["state=PendingAcceptance"], g.ID)
		}
	}
	for q, ids := range want {
		var seen []string
		tok, pages := "", 0
		for {
			u := "/guests?pageSize=4&" + q
			if tok != "" {
				u += "&pageToken=" + url.QueryEscape(tok)
			}
			var page struct {
				Guests        []apiGuest
				NextPageToken string
			}
			if err := json.Unmarshal(api.must(http.MethodGet, u, "", http.StatusOK).body, &page); err != nil {
				t.Fatal(err)
			}
			if len(page.Guests) > 4 {
				t.Fatalf("%s: page of %d", q, len(page.Guests))
			}
			for _, g := range page.Guests {
				seen = append(seen, g.ID)
			}
			pages++
			if tok = page.NextPageToken; tok == "" || pages > 20 {
				break
			}
		}
		slices.Sort(seen)
		slices.Sort(ids)
		if !slices.Equal(seen, ids) {
			t.Fatalf("%q: listed %d guests %v, want %d %v", q, len(seen), seen, len(ids), ids)
		}
	}
}

// The policy set through one replica binds the other at once (two
// servers, one Redis); clearing it returns to the config.
func TestAdminPolicyAcrossReplicas(t *testing.T) {
	rs := redistest.Start(t)
	prefix := redistest.KeyPrefix(t)
	secrets := [3]string{secret(64), secret(32), secret(32)}
	// No resend cooldown: the guest signs in twice within a minute of
	// Redis's own clock.
	noCooldown := func(c *config.Config) { c.Tenants[0].EmailOTP.ResendCooldown = 0 }
	e1 := newEnv(t, envOptions{redis: rs, prefix: prefix, secrets: &secrets, configure: noCooldown})
	e2 := newEnv(t, envOptions{redis: rs, prefix: prefix, secrets: &secrets, smtp: e1.smtp, configure: noCooldown})
	api := newAdminAPI(t, e1, "fabrikam", clientCredentials(t, e1, "fabrikam", "admin", "admin-secret"))
	api.invite("pol@guest.example", "")
	r2 := newRP(t, e2, "fabrikam", "portal", "portal-secret")
	r2.callback(t, e2, "fabrikam", signIn(t, e2, newBrowser(t), r2.authURL(), "pol@guest.example"))

	p := api.must(http.MethodPut, "/policy", `{"emailOTP":{"enabled":false}}`, http.StatusOK)
	if !bytes.Equal(bytes.TrimSpace(p.body), []byte(`{"emailOTP":{"enabled":false,"from":"admin"}}`)) {
		t.Fatalf("PUT answer %s", p.body)
	}
	// On replica 2 at once: the otp guest gets the "turned off" page, and no mail.
	pg := postEmail(t, newBrowser(t), r2.authURL(), "pol@guest.example")
	if pg.status != http.StatusForbidden || !strings.Contains(pg.body, "turned off") || !strings.Contains(pg.body, "admin") {
		t.Fatalf("otp guest with passcodes off on replica 2: %d\n%s", pg.status, pg.body)
	}
	api.must(http.MethodPut, "/policy", `{"emailOTP":{}}`, http.StatusBadRequest)
	// The body GET answers can be sent back as is: "from" is ignored.
	if p := api.must(http.MethodPut, "/policy", `{"emailOTP":{"enabled":false,"from":"config"}}`, http.StatusOK); !bytes.Equal(bytes.TrimSpace(p.body), []byte(`{"emailOTP":{"enabled":false,"from":"admin"}}`)) {
		t.Fatalf("PUT of GET's body: %s", p.body)
	}
	p = api.must(http.MethodDelete, "/policy", "", http.StatusOK)
	if !bytes.Equal(bytes.TrimSpace(p.body), []byte(`{"emailOTP":{"enabled":true,"from":"config"}}`)) {
		t.Fatalf("DELETE answer %s", p.body)
	}
	r2.callback(t, e2, "fabrikam", signIn(t, e2, newBrowser(t), r2.authURL(), "pol@guest.example"))
}

// An invitation mail reaches a real SMTP server, names the organisation
// and carries the redeem link; French on request.
func TestAdminInvitationMail(t *testing.T) {
	e := newEnv(t, envOptions{})
	api := newAdminAPI(t, e, "fabrikam", clientCredentials(t, e, "fabrikam", "admin", "admin-secret"))
	a := api.must(http.MethodPost, "/invitations", `{"email":"mail@guest.example","sendMail":true}`, http.StatusCreated)
	link := a.json(t)["redeemURL"].(string)
	m, err := e.smtp.WaitFor("mail@guest.example", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.Text, link) || !strings.Contains(m.Text, "Fabrikam") || !strings.Contains(m.HTML, link) {
		t.Fatalf("invitation mail:\n%s", m.Text)
	}
	// Who invited them: the admin client's configured name.
	if !strings.Contains(m.Text, "Fabrikam admin has invited you") {
		t.Fatalf("invitation mail does not name the inviter:\n%s", m.Text)
	}
	api.must(http.MethodPost, "/invitations", `{"email":"fr@guest.example","sendMail":true,"locale":"fr"}`, http.StatusCreated)
	m, err = e.smtp.WaitFor("fr@guest.example", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.Subject, "invité") {
		t.Fatalf("French invitation subject %q", m.Subject)
	}
	// Without sendMail, nothing is mailed.
	api.invite("quiet@guest.example", "")
	noMailTo(t, e.smtp, "quiet@guest.example", 300*time.Millisecond)
}

// The seed's sticky-source story through the API: passcode guests whose
// domain a connector later claims keep their passcode; after a reset, or
// a delete and a re-invitation, the same address goes to the connector.
func TestAdminResetMovesStickyGuestToConnector(t *testing.T) {
	e, m := newMockEnv(t)
	api := newAdminAPI(t, e, "fabrikam", clientCredentials(t, e, "fabrikam", "admin", "admin-secret"))
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	pat, _, _ := api.invite("pat@later.example", "")
	quin, _, _ := api.invite("quin@later.example", "")
	for _, addr := range []string{"pat@later.example", "quin@later.example"} {
		r.callback(t, e, "fabrikam", signIn(t, e, newBrowser(t), r.authURL(), addr))
	}
	m.pw["fabrikam"].SetDomains("staff.example", "later.example")
	e.clock.Advance(2 * time.Minute)
	// Sticky: still a passcode.
	r.callback(t, e, "fabrikam", signIn(t, e, newBrowser(t), r.authURL(), "pat@later.example"))

	// Reset: same id, and the connector now.
	got := api.must(http.MethodPost, "/guests/"+pat.ID+"/reset", "", http.StatusOK).json(t)
	if got["id"] != pat.ID || got["source"] != "" {
		t.Fatalf("reset: %v", got)
	}
	if p := postEmail(t, newBrowser(t), r.authURL(), "pat@later.example"); !isPasswordPage(p) {
		t.Fatalf("after reset: %d %s\n%s", p.status, p.url, p.body)
	}
	// Delete and re-invite: a new id, and the connector too.
	api.must(http.MethodDelete, "/guests/"+quin.ID, "", http.StatusNoContent)
	q2, _, status := api.invite("quin@later.example", "")
	if status != http.StatusCreated || q2.ID == quin.ID {
		t.Fatalf("re-invite after delete: %d %v", status, q2)
	}
	if p := postEmail(t, newBrowser(t), r.authURL(), "quin@later.example"); !isPasswordPage(p) {
		t.Fatalf("after delete and re-invite: %d %s\n%s", p.status, p.url, p.body)
	}
}
