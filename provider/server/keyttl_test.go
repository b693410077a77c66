package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"

	"github.com/guestpass/guestpass/connectors/mock"
	"github.com/guestpass/guestpass/pkg/config"
)

// permanentKinds are the kinds of key that live without a TTL, each with
// why: records an admin or a guest owns, and what indexes them. None may be
// written per sign-in: TestNoKeyWithoutTTLGrowsWithTraffic checks that
// their number and sizes stay put when the same guests sign in again.
// Everything else the sign-in path writes must expire.
var permanentKinds = []struct {
	kind *regexp.Regexp // matched against kindOf
	why  string
}{
	{regexp.MustCompile(`^guest:\*$`), "a guest's record (pkg/guests): kept until an admin deletes it"},
	{regexp.MustCompile(`^guest-ids$`), "guest id → address index of the records"},
	{regexp.MustCompile(`^guest-subjects$`), "upstream subject → address index of the records"},
	{regexp.MustCompile(`^gx:(all|source:.*|state:.*)$`), "the admin API's list indexes of the records"},
	{regexp.MustCompile(`^invite-current$`), "each invited guest's newest redeem token (pkg/guests invitations)"},
	{regexp.MustCompile(`^policy$`), "the tenant's switches set through the admin API"},
	{regexp.MustCompile(`^signing-keys(-rsa)?$`), "the tenant's signing keys, EC and RSA (their rotation drops old ones)"},
	{regexp.MustCompile(`^(outbox:q|outbox:tenants)$`), "the mail queue and its tenants: entries leave as mails go"},
}

func isPermanentKind(kind string) bool {
	for _, p := range permanentKinds {
		if p.kind.MatchString(kind) {
			return true
		}
	}
	return false
}

// Issue 10 (c): no key without a TTL grows with traffic. Real sign-ins of
// every kind on a real Redis — invited and self-service passcode guests
// (one wrong code first), single sign-on into a second app, a refresh, a
// revoked refresh family, a logout, a password connector (one wrong
// password first) and an upstream, with the Redis mail outbox serve uses
// — then every key is read: each has a TTL, unless its kind is one of the
// named permanent ones. A second round of the same guests must leave the
// permanent keys as they were: as many, each with as many entries. A new
// SET without expiry on the sign-in path fails the first check; a
// permanent kind written per sign-in fails the second.
func TestNoKeyWithoutTTLGrowsWithTraffic(t *testing.T) {
	m := newMocks()
	e, ks := newKeyspaceEnv(t, envOptions{outbox: true, connectors: m.registry(), configure: func(c *config.Config) {
		mockConnectors(c)
		c.Tenant("fabrikam").EmailOTP.ResendCooldown = 0            // the second round mails the same addresses at once
		c.Tenant("fabrikam").Clients[0].IDTokenSigningAlg = "RS256" // the RSA ring's keys too
		c.Tenant("contoso").EmailOTP.ResendCooldown = 0
	}})
	const (
		staff   = "ada@staff.example"
		partner = "bo@partner.example"
	)
	m.pw["contoso"].SetUser(staff, mock.User{Password: "right horse"})
	invited := []string{"ivy@guest.example", "ian@guest.example"}
	for _, addr := range invited {
		invite(t, e, "fabrikam", addr, "Invited")
	}
	selfService := []string{"sam@guest.example", "sue@guest.example"}
	fab := newRP(t, e, "fabrikam", "portal", "portal-secret")
	con := newRP(t, e, "contoso", "portal", "contoso-secret")
	ctx := context.Background()

	round := func() {
		t.Helper()
		for _, addr := range invited {
			b := newBrowser(t)
			cp := sendOn(t, b, postEmail(t, b, fab.authURL(), addr))
			code := waitCode(t, e.smtp, addr)
			enter(t, b, cp, wrongCode(code, 0)) // counts a failure
			tok, _ := fab.callback(t, e, "fabrikam", enter(t, b, cp, code))
			next, err := fab.oauth.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
			if err != nil {
				t.Fatalf("refresh: %v", err)
			}
			fab.callback(t, e, "fabrikam", b.get(fab.authURL())) // single sign-on
			revoke(t, e, next.RefreshToken, "refresh_token")
			logout(t, e, b, "fabrikam")
		}
		for _, addr := range selfService {
			b := newBrowser(t)
			tok, _ := con.callback(t, e, "contoso", signIn(t, e, b, con.authURL(), addr))
			if _, err := con.oauth.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
				t.Fatalf("refresh: %v", err)
			}
			logout(t, e, b, "contoso")
		}
		b := newBrowser(t)
		postPassword(t, b, postEmail(t, b, con.authURL(), staff), "wrong horse")
		b = newBrowser(t)
		con.callback(t, e, "contoso", postPassword(t, b, postEmail(t, b, con.authURL(), staff), "right horse"))
		b = newBrowser(t)
		con.callback(t, e, "contoso", b.get(upstreamRedirect(t, b, con.authURL(), partner)))
	}

	round()
	first := permanentSizes(t, ks)
	round()
	second := permanentSizes(t, ks)

	if len(first) < 8 {
		t.Fatalf("only %d permanent keys after a round of sign-ins: %v", len(first), first)
	}
	for key, n := range second {
		if was, ok := first[key]; !ok {
			t.Errorf("permanent key %s (kind %s) is new in the second round of the same sign-ins", key, kindOf(key))
		} else if n != was {
			t.Errorf("permanent key %s grew with the second round of the same sign-ins: %d entries, then %d", key, was, n)
		}
	}
	if len(second) != len(first) {
		t.Errorf("%d permanent keys after one round, %d after two", len(first), len(second))
	}
}

// permanentSizes waits until the outbox has sent every mail, checks that
// every key has a TTL unless of a permanent kind, and returns the
// permanent keys with their number of entries (a hash's fields, an
// ordered set's members; 1 for a string).
func permanentSizes(t *testing.T, ks *keyspace) map[string]int64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for queued(t, ks) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("outbox not drained: %d mails queued", queued(t, ks))
		}
		time.Sleep(20 * time.Millisecond)
	}
	keys := ks.keys(t)
	ttls := each(t, ks, keys, func(p redis.Pipeliner, key string) interface {
		Result() (time.Duration, error)
	} {
		return p.PTTL(context.Background(), key)
	})
	var perm, forever []string
	expiring := map[string]int{}
	for _, key := range keys {
		ttl, ok := ttls[key]
		if !ok {
			continue // expired or deleted since the scan
		}
		kind := kindOf(key)
		switch {
		case isPermanentKind(kind):
			perm = append(perm, key)
		case ttl < 0: // -1: no expiry
			forever = append(forever, fmt.Sprintf("%s (kind %s)", key, kind))
		default:
			expiring[kind]++
		}
	}
	for _, f := range forever {
		t.Errorf("key without a TTL, of no permanent kind: %s", f)
	}
	if len(expiring) < 8 {
		t.Fatalf("only %d kinds of expiring keys after the sign-ins: %v", len(expiring), expiring)
	}
	t.Logf("expiring keys by kind: %v", expiring)
	types := each(t, ks, perm, func(p redis.Pipeliner, key string) interface{ Result() (string, error) } {
		return p.Type(context.Background(), key)
	})
	sizes := each(t, ks, perm, func(p redis.Pipeliner, key string) interface{ Result() (int64, error) } {
		switch typ := types[strings.TrimPrefix(key, ks.prefix)]; typ {
		case "hash":
			return p.HLen(context.Background(), key)
		case "zset":
			return p.ZCard(context.Background(), key)
		case "string":
			return p.Exists(context.Background(), key)
		default:
			t.Fatalf("permanent key %s is a %q", key, typ)
		}
		return nil
	})
	kinds := make([]string, 0, len(sizes))
	for key, n := range sizes {
		kinds = append(kinds, fmt.Sprintf("%s=%d", kindOf(key), n))
	}
	sort.Strings(kinds)
	t.Logf("permanent keys (entries): %s", strings.Join(kinds, " "))
	return sizes
}

// queued counts the mails in every tenant's outbox queue.
func queued(t testing.TB, ks *keyspace) int64 {
	t.Helper()
	var n int64
	for _, key := range ks.keys(t) {
		if kindOf(key) == "outbox:q" {
			c, err := ks.rdb.ZCard(context.Background(), ks.prefix+key).Result()
			if err != nil {
				t.Fatal(err)
			}
			n += c
		}
	}
	return n
}

// logout ends b's session at tenant through the confirmation page, as a
// guest pressing "Sign out" does.
func logout(t *testing.T, e *env, b *browser, tenant string) {
	t.Helper()
	action, form := confirmPage(t, b.raw(http.MethodGet, e.issuer(tenant)+"/end_session?"+url.Values{"client_id": {"portal"}}.Encode(), nil))
	if p := b.raw(http.MethodPost, action, form); p.status >= 400 {
		t.Fatalf("logout at %s: %d\n%s", tenant, p.status, p.body)
	}
}
