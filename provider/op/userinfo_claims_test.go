package op

import (
	"testing"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// email_verified is the connector's word, carried in the identity: never a
// constant.
func TestEmailVerifiedFromIdentity(t *testing.T) {
	s := &storage{tenant: "t"}
	for _, verified := range []bool{true, false} {
		u := s.userClaims(&Identity{Subject: "s", Email: "a@b.example", EmailVerified: verified, Source: "otp"},
			[]string{oidc.ScopeOpenID, oidc.ScopeEmail})
		if u.EmailVerified != verified || u.Email != "a@b.example" {
			t.Errorf("identity verified=%v: userinfo email %q verified %v", verified, u.Email, u.EmailVerified)
		}
	}
}
