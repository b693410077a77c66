package login

import "github.com/zitadel/oidc/v3/pkg/oidc"

// oidcLoginRequired is the answer to prompt=none without a usable session.
func oidcLoginRequired() error {
	return oidc.ErrLoginRequired().WithDescription("the user must sign in")
}
