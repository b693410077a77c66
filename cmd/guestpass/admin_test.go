package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guestpass/guestpass/pkg/adminclient"
)

// adminTenant is a tenant with an app, an admin client and a non-admin
// client that knows its secret; extra is appended to the tenant (YAML at
// four spaces).
func adminTenant(id, extra string) string {
	return "  - id: " + id + "\n    displayName: Alpha Org\n" +
		"    clients:\n" +
		"      - {id: app, secret: app-secret, redirectURIs: [\"" + cliCallback + "\"]}\n" +
		"      - {id: admin, secret: admin-secret, admin: true}\n" + extra
}

const cliCallback = "http://127.0.0.1:9/cb"

// serveText runs `guestpass serve` (startServe) with config text
// (serveConfig's placeholders filled) until the test ends, showing its log
// when the test failed; it returns the base URL.
func serveText(t *testing.T, configText string) string {
	t.Helper()
	addr := freePort(t)
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(configText, "%ADDR%", addr)), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, path, addr)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("serve %s log:\n%s", addr, s.logs.String())
		}
		s.cancel()
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop")
		}
	})
	return s.base
}

// cli runs one CLI command as the admin client of issuer.
type cliResult struct {
	code        int
	out, errOut string
}

func cli(t *testing.T, args ...string) cliResult {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	r := cliResult{code, out.String(), errb.String()}
	for _, secret := range []string{"admin-secret", "app-secret", "wrong-secret"} {
		if strings.Contains(r.out+r.errOut, secret) {
			t.Fatalf("%v printed a secret:\n%s%s", args, r.out, r.errOut)
		}
	}
	return r
}

func (r cliResult) must(t *testing.T, code int, want ...string) cliResult {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.out, r.errOut)
	}
	for _, w := range want {
		if !strings.Contains(r.out+r.errOut, w) {
			t.Fatalf("output lacks %q\nstdout:\n%s\nstderr:\n%s", w, r.out, r.errOut)
		}
	}
	return r
}

func asAdmin(t *testing.T, issuer string) {
	t.Setenv("GUESTPASS_URL", issuer)
	t.Setenv("GUESTPASS_CLIENT_ID", "admin")
	t.Setenv("GUESTPASS_CLIENT_SECRET", "admin-secret")
}

type listJSON struct {
	Guests []struct {
		ID, Email, State, Source, InvitedAt string
	} `json:"guests"`
	NextPageToken *string `json:"nextPageToken"`
}

// The CLI over the admin API of a real `guestpass serve`: invite, list
// (table and JSON, every page and one page), get, reset, delete, and the
// policy switch.
func TestAdminCLIGuests(t *testing.T) {
	base := serveText(t, strings.ReplaceAll(serveConfig, "%TENANTS%", adminTenant("alpha", "")))
	asAdmin(t, base+"/alpha")

	inv := cli(t, "invite", "Ada@Partner.example", "--name", "Ada L", "--no-mail", "--json").must(t, 0)
	var a struct {
		Guest struct {
			ID, Email, State string
		} `json:"guest"`
		RedeemURL string `json:"redeemURL"`
	}
	if err := json.Unmarshal([]byte(inv.out), &a); err != nil || a.Guest.ID == "" || !strings.HasPrefix(a.RedeemURL, base+"/alpha/redeem/") {
		t.Fatalf("invite --json: %v\n%s", err, inv.out)
	}
	id := a.Guest.ID
	cli(t, "invite", "bob@partner.example", "--no-mail").must(t, 0, "invited bob@partner.example", "redeem link: "+base+"/alpha/redeem/")
	cli(t, "invite", "ada@partner.example", "--no-mail").must(t, 0, "re-invited", id)

	cli(t, "guests", "list").must(t, 0, "ID", "STATE", "SOURCE", id, "Ada L", "PendingAcceptance", "bob@partner.example")
	var l listJSON
	out := cli(t, "guests", "list", "--state", "PendingAcceptance", "--json").must(t, 0).out
	if err := json.Unmarshal([]byte(out), &l); err != nil || len(l.Guests) != 2 || l.NextPageToken == nil || *l.NextPageToken != "" {
		t.Fatalf("list --json: %v\n%s", err, out)
	}
	for _, g := range l.Guests {
		if g.State != "PendingAcceptance" || g.InvitedAt == "" {
			t.Fatalf("listed %+v", g)
		}
	}
	cli(t, "guests", "list", "--state", "Accepted").must(t, 0, "(no guests)")
	cli(t, "guests", "list", "--state", "Nonsense").must(t, exitFailed, "state: use PendingAcceptance or Accepted")

	// One page at a time: the token printed leads to the other guest.
	out = cli(t, "guests", "list", "--page-size", "1", "--json").must(t, 0).out
	if err := json.Unmarshal([]byte(out), &l); err != nil || len(l.Guests) != 1 || *l.NextPageToken == "" {
		t.Fatalf("one page: %v\n%s", err, out)
	}
	first := l.Guests[0].ID
	out = cli(t, "guests", "list", "--page-size", "1", "--page-token", *l.NextPageToken, "--json").must(t, 0).out
	if err := json.Unmarshal([]byte(out), &l); err != nil || len(l.Guests) != 1 || l.Guests[0].ID == first {
		t.Fatalf("second page: %v\n%s", err, out)
	}

	cli(t, "guests", "get", id).must(t, 0, "Ada@partner.example", "PendingAcceptance")
	cli(t, "guests", "reset", id, "--json").must(t, 0, `"id":"`+id+`"`)
	cli(t, "guests", "delete", id).must(t, 0, "deleted guest "+id)
	cli(t, "guests", "get", id).must(t, exitNotFound, "no guest")
	cli(t, "guests", "delete", id).must(t, exitNotFound)
	cli(t, "invite", "not-an-address", "--no-mail").must(t, exitFailed, "the server refused the request: email:")
	cli(t, "guests", "get").must(t, exitUsage, "expected 1 argument")
}

func TestAdminCLIPolicy(t *testing.T) {
	base := serveText(t, strings.ReplaceAll(serveConfig, "%TENANTS%", adminTenant("alpha", "")))
	asAdmin(t, base+"/alpha")
	cli(t, "policy", "get").must(t, 0, "on, from the config file")
	cli(t, "policy", "set", "--email-otp=off").must(t, 0, "off, set through the admin API")
	var p struct {
		EmailOTP struct {
			Enabled *bool  `json:"enabled"`
			From    string `json:"from"`
		} `json:"emailOTP"`
	}
	out := cli(t, "policy", "get", "--json").must(t, 0).out
	if err := json.Unmarshal([]byte(out), &p); err != nil || p.EmailOTP.Enabled == nil || *p.EmailOTP.Enabled || p.EmailOTP.From != "admin" {
		t.Fatalf("policy get --json: %v\n%s", err, out)
	}
	cli(t, "policy", "clear").must(t, 0, "on, from the config file")
	cli(t, "policy", "set").must(t, exitUsage, "--email-otp=on or --email-otp=off")
	cli(t, "policy", "set", "--email-otp=maybe").must(t, exitUsage, "use on or off")
	cli(t, "policy", "frobnicate").must(t, exitUsage, "unknown command")
}

// Every way of pointing the CLI wrong gets a message naming the setting
// to fix, and its own non-zero exit.
func TestAdminCLIErrors(t *testing.T) {
	base := serveText(t, strings.ReplaceAll(serveConfig, "%TENANTS%", adminTenant("alpha", "")))
	asAdmin(t, base+"/alpha")

	t.Setenv("GUESTPASS_CLIENT_SECRET", "")
	cli(t, "guests", "list").must(t, exitUsage, "GUESTPASS_CLIENT_SECRET not set")
	t.Setenv("GUESTPASS_URL", "")
	cli(t, "policy", "get").must(t, exitUsage, "GUESTPASS_URL, GUESTPASS_CLIENT_SECRET not set")

	t.Setenv("GUESTPASS_URL", base+"/alpha")
	t.Setenv("GUESTPASS_CLIENT_SECRET", "wrong-secret")
	cli(t, "guests", "list").must(t, exitRefused, "GUESTPASS_CLIENT_SECRET is wrong for GUESTPASS_CLIENT_ID=admin")

	t.Setenv("GUESTPASS_CLIENT_ID", "app")
	t.Setenv("GUESTPASS_CLIENT_SECRET", "app-secret")
	cli(t, "policy", "set", "--email-otp=off").must(t, exitRefused, "GUESTPASS_CLIENT_ID=app is not an admin client")

	asAdmin(t, base+"/nosuch")
	cli(t, "policy", "get").must(t, exitUsage, "GUESTPASS_URL is not a tenant's issuer")
	asAdmin(t, "http://"+freePort(t)+"/alpha")
	cli(t, "policy", "get").must(t, exitUnreachable, "cannot reach", "GUESTPASS_URL")
	asAdmin(t, "localhost:8080/alpha")
	cli(t, "policy", "get").must(t, exitUsage, "GUESTPASS_URL")

	// Nothing was changed by the refused calls.
	asAdmin(t, base+"/alpha")
	cli(t, "policy", "get").must(t, 0, "on, from the config file")
}

// Without --page-size, list follows nextPageToken to the end: 51 guests
// are more than the API's default page of 50.
func TestAdminCLIListFollowsPages(t *testing.T) {
	base := serveText(t, strings.ReplaceAll(serveConfig, "%TENANTS%", adminTenant("alpha", "")))
	asAdmin(t, base+"/alpha")
	const n = 51
	for i := 0; i < n; i++ {
		cli(t, "invite", fmt.Sprintf("g%02d@partner.example", i), "--no-mail").must(t, 0)
	}
	var l listJSON
	out := cli(t, "guests", "list", "--json").must(t, 0).out
	if err := json.Unmarshal([]byte(out), &l); err != nil || len(l.Guests) != n || *l.NextPageToken != "" {
		t.Fatalf("list --json: %v, %d guests", err, len(l.Guests))
	}
	seen := map[string]bool{}
	for _, g := range l.Guests {
		seen[g.ID] = true
	}
	if len(seen) != n {
		t.Fatalf("%d distinct guests of %d", len(seen), n)
	}
	table := cli(t, "guests", "list").must(t, 0, "g00@partner.example", "g50@partner.example").out
	if rows := strings.Count(table, "\n"); rows != n+1 {
		t.Fatalf("table has %d lines, want %d:\n%s", rows, n+1, table)
	}
}

// The admin API's own refusals (a token revoked or expired between the
// token call and the API call, a client whose admin flag was removed)
// name the client and exit as credentials refused; the API's message is
// shown as it is.
func TestAdminCLIReportsAPIRefusals(t *testing.T) {
	c := &adminCmd{id: "ops"}
	for _, tc := range []struct {
		err  *adminclient.APIError
		code int
		want string
	}{
		{&adminclient.APIError{Status: 401, Code: "invalid_token", Message: "the access token is invalid"}, exitRefused, "access token of GUESTPASS_CLIENT_ID=ops: the access token is invalid"},
		{&adminclient.APIError{Status: 403, Code: "insufficient_scope", Message: "not an admin client"}, exitRefused, "GUESTPASS_CLIENT_ID=ops may not use the admin API: not an admin client"},
		{&adminclient.APIError{Status: 409, Code: "conflict", Message: "busy"}, exitFailed, "the server refused the request: busy"},
		{&adminclient.APIError{Status: 503, Code: "temporarily_unavailable", Message: "try again"}, exitFailed, "503 temporarily_unavailable: try again"},
	} {
		var errb bytes.Buffer
		if got := c.report(fmt.Errorf("call: %w", tc.err), &errb); got != tc.code || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%d: exit %d (want %d), message %q lacks %q", tc.err.Status, got, tc.code, errb.String(), tc.want)
		}
	}
}
