package ldap_test

import (
	"testing"

	"github.com/guestpass/guestpass/connectors/ldap/ldaptest"
)

// The directory's matching rule decides the search, and it may be looser
// than B10's: caseIgnoreMatch folds the Kelvin sign to k, B10 does not. An
// entry found that way does not hold the address and signs nobody in.
func TestDirectoryLooserThanB10(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{Users: []ldaptest.User{
		// cn is a directory string: Unicode case folding.
		{UID: "kelvin", Name: "\u212Aate@example.org", Password: "kelvin-pw"},
	}})
	o := options(srv.Addr)
	o.UserSearch.EmailAttr = "cn"
	c := open(t, o)
	if _, ok, err := c.Login(t.Context(), "kate@example.org", "kelvin-pw"); ok || err != nil {
		t.Fatalf("kate@example.org signed in as the K-sign entry: %v, %v", ok, err)
	}
}
