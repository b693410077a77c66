package server_test

import (
	"context"
	"strings"
	"testing"

	"github.com/guestpass/guestpass/connectors/mock"
	"github.com/guestpass/guestpass/pkg/store/redisstore"
	"github.com/guestpass/guestpass/pkg/store/redistest"
)

// Redis key names show in monitoring, slow logs and backups, so none may
// hold a guest's address (issue 11, item 7). After real sign-ins of every
// kind on a real Redis — an invited and a self-service passcode guest, a
// password connector's (right and wrong passwords: attempt counters), an
// upstream's (subject index) — no key name carries an '@', an address's
// local part or the address itself.
func TestNoAddressInRedisKeyNames(t *testing.T) {
	e, m := newMockEnvOn(t, redistest.Start(t))
	const (
		invited  = "zoe.quill@guest.example"
		selfServ = "yarrow.newcomer@guest.example"
		staff    = "ada.lovelace@staff.example"
		partner  = "bo.partnerperson@partner.example"
	)
	m.pw["contoso"].SetUser(staff, mock.User{Password: "right horse"})
	invite(t, e, "fabrikam", invited, "Zoe Quill")
	rf := newRP(t, e, "fabrikam", "portal", "portal-secret")
	rf.callback(t, e, "fabrikam", signIn(t, e, newBrowser(t), rf.authURL(), invited))
	rc := newRP(t, e, "contoso", "portal", "contoso-secret")
	rc.callback(t, e, "contoso", signIn(t, e, newBrowser(t), rc.authURL(), selfServ))
	b := newBrowser(t)
	postPassword(t, b, postEmail(t, b, rc.authURL(), staff), "wrong horse")
	b = newBrowser(t)
	rc.callback(t, e, "contoso", postPassword(t, b, postEmail(t, b, rc.authURL(), staff), "right horse"))
	b = newBrowser(t)
	rc.callback(t, e, "contoso", b.get(upstreamRedirect(t, b, rc.authURL(), partner)))

	keys, err := e.store.(*redisstore.Store).Client().Keys(context.Background(), "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) < 10 {
		t.Fatalf("only %d keys after the sign-ins: %v", len(keys), keys)
	}
	for _, k := range keys {
		if strings.Contains(k, "@") {
			t.Errorf("key name %q holds an '@'", k)
		}
		for _, addr := range []string{invited, selfServ, staff, partner} {
			if local := addr[:strings.IndexByte(addr, '@')]; strings.Contains(k, local) {
				t.Errorf("key name %q holds the local part of %s", k, addr)
			}
		}
	}
	t.Logf("%d key names, none with an address", len(keys))
}
