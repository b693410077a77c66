package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/guestpass/guestpass/connectors"
)

// A connector's error text goes to the log, and it may quote the address
// it failed on (an LDAP filter, a DN): the "connector failed" line masks
// it even on a logger without the log guard (the harness's observer).
func TestConnectorFailureLogMasksAddress(t *testing.T) {
	e, m := newMockEnvWith(t, mockOptions{})
	r := newRP(t, e, "contoso", "portal", "contoso-secret")
	pw := m.pw["contoso"]
	pw.SetErr(fmt.Errorf("search (&(objectClass=person)(mail=ada@staff.example)) at ldap:389: %w", connectors.ErrUnreachable))
	defer pw.SetErr(nil)

	b := newBrowser(t)
	p := postPassword(t, b, postEmail(t, b, r.authURL(), "ada@staff.example"), "pw")
	if p.status != http.StatusServiceUnavailable {
		t.Fatalf("failing backend: %d", p.status)
	}
	lines := e.logs.FilterMessage("connector failed").All()
	if len(lines) == 0 {
		t.Fatal(`no "connector failed" line: the test would prove nothing`)
	}
	for _, en := range lines {
		s := fmt.Sprint(en.ContextMap())
		if strings.Contains(s, "ada@staff.example") || !strings.Contains(s, "a***@staff.example") {
			t.Fatalf("the address is not masked: %s", s)
		}
	}
}
