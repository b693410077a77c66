package server_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// BenchmarkRedisMemory weighs what real sign-ins keep in a real Redis:
// MEMORY USAGE (SAMPLES 0) of the keys each item creates, summed over
// b.N self-service passcode sign-ins through the real handler, divided by
// b.N. It reports figures, it never judges them: they go in README
// "Speed", "Memory".
//
//	go test -run '^$' -bench BenchmarkRedisMemory -benchtime 1000x ./provider/server
//
// (-v adds a table of bytes per sign-in by kind of key at each phase).
//
// The phases, each over all b.N guests before the next:
//
//   - B/code: everything the send step adds (the code record, its counters
//     and cooldowns; the per-IP and per-tenant counters, shared, count once
//     in the sum), with the mail already sent; B/queued-mail: what the
//     Redis outbox holds for one mail until it is sent (body, queue entry).
//   - B/session: the session record of a signed-in guest.
//   - B/family: a refresh family fresh from the code exchange (its refresh
//     token and access token); B/rotation: what one refresh adds (the new
//     pair; the used token stays, marked, until the family expires);
//     B/revoked: the family's revocation mark.
//   - B/code-used: the marker of a redeemed code, kept with the tokens it
//     produced (a code presented again revokes them).
//   - B/guest: a new guest's record and index entries, which do not expire.
//   - B/sign-in: everything a completed sign-in leaves that expires
//     (session, family, code marker, the passcode's counters), the sum of
//     the others' share at that point, measured as one.
func BenchmarkRedisMemory(b *testing.B) {
	n := b.N
	e, ks := newKeyspaceEnv(b, envOptions{outbox: true, mailQueue: n + 16})
	r := newRP(b, e, "contoso", "portal", "contoso-secret")
	ctx := context.Background()
	email := func(i int) string { return fmt.Sprintf("mem%d@guest.example", i) }

	browsers := make([]*browser, n)
	pages := make([]page, n)
	for i := range n {
		browsers[i] = newBrowser(b)
		pages[i] = postEmail(b, browsers[i], r.authURL(), email(i))
	}
	start := ks.usage(b)

	// The SMTP server holds every mail, so that the outbox keeps them.
	e.smtp.Hold()
	for i := range n {
		pages[i] = sendOn(b, browsers[i], pages[i])
	}
	sent := ks.usage(b)
	e.smtp.Release()
	deadline := time.Now().Add(30 * time.Second)
	for queued(b, ks) > 0 {
		if time.Now().After(deadline) {
			b.Fatalf("outbox not drained: %d mails queued", queued(b, ks))
		}
		time.Sleep(20 * time.Millisecond)
	}
	pending := ks.usage(b)

	toks := make([]*oauth2.Token, n)
	for i := range n {
		toks[i], _ = r.callback(b, e, "contoso", enter(b, browsers[i], pages[i], waitCode(b, e.smtp, email(i))))
	}
	signedIn := ks.usage(b)

	for i := range n {
		next, err := r.oauth.TokenSource(ctx, &oauth2.Token{RefreshToken: toks[i].RefreshToken}).Token()
		if err != nil {
			b.Fatalf("refresh: %v", err)
		}
		toks[i] = next
	}
	refreshed := ks.usage(b)

	for i := range n {
		revokeAt(b, e, "contoso", "portal", "contoso-secret", toks[i].RefreshToken, "refresh_token")
	}
	revoked := ks.usage(b)

	per := func(bytes int64) float64 { return float64(bytes) / float64(n) }
	k0, kSent, kPending, kIn, kRef, kRev := byKind(start), byKind(sent), byKind(pending), byKind(signedIn), byKind(refreshed), byKind(revoked)
	family := func(k map[string]int64) int64 { return k["rt"] + k["at"] }
	b.ReportMetric(per(total(pending)-total(start)), "B/code")
	b.ReportMetric(per(total(sent)-total(pending)), "B/queued-mail")
	b.ReportMetric(per(kIn["session"]), "B/session")
	b.ReportMetric(per(family(kIn)), "B/family")
	b.ReportMetric(per(family(kRef)-family(kIn)), "B/rotation")
	b.ReportMetric(per(kRev["rtf-revoked"]), "B/revoked")
	b.ReportMetric(per(kIn["code-used"]), "B/code-used")
	b.ReportMetric(per(guestBytes(kIn)-guestBytes(k0)), "B/guest")
	b.ReportMetric(per(total(signedIn)-guestBytes(kIn)), "B/sign-in")
	b.ReportMetric(0, "ns/op") // the time of n sign-ins is not what this measures

	if testing.Verbose() { // go test cuts a benchmark's log to a few lines without -v
		b.Logf("%d sign-ins; bytes per sign-in by kind of key, at each phase:\n%s", n,
			kindTable(n, []string{"email page", "codes sent", "mails sent", "signed in", "refreshed", "revoked"},
				k0, kSent, kPending, kIn, kRef, kRev))
	}
}

func total(m map[string]int64) int64 {
	var s int64
	for _, v := range m {
		s += v
	}
	return s
}

// guestBytes sums the kinds that keep guests (permanentKinds, less the
// tenant's own policy and signing keys, which no sign-in adds to).
func guestBytes(byKind map[string]int64) int64 {
	var s int64
	for kind, v := range byKind {
		if isPermanentKind(kind) && kind != "signing-keys" && kind != "policy" {
			s += v
		}
	}
	return s
}

// kindTable renders bytes per item (sum / n) of each kind at each phase.
func kindTable(n int, phases []string, snaps ...map[string]int64) string {
	kinds := map[string]bool{}
	for _, s := range snaps {
		for k := range s {
			kinds[k] = true
		}
	}
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, k)
	}
	sort.Strings(names)
	var sb strings.Builder
	fmt.Fprintf(&sb, "%-28s", "kind")
	for _, p := range phases {
		fmt.Fprintf(&sb, " %11s", p)
	}
	for _, k := range names {
		fmt.Fprintf(&sb, "\n%-28s", k)
		for _, s := range snaps {
			fmt.Fprintf(&sb, " %11.1f", float64(s[k])/float64(n))
		}
	}
	return sb.String()
}
