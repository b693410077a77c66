package login

import (
	"time"

	"github.com/guestpass/guestpass/connectors/otp"
	"github.com/guestpass/guestpass/provider/pages"
)

// Tenant is what the sign-in pages know of their tenant. The server
// builds it from the config; this package does not read the config.
type Tenant struct {
	ID string
	// Branding is how the pages look, and its DisplayName names the
	// tenant in mails.
	Branding pages.Branding
	// SelfServiceSignUp lets an address that is not a guest sign in.
	SelfServiceSignUp bool
	EmailOTP          EmailOTP
	Session           Session
	Clients           []Client
}

// EmailOTP is the tenant's passcode sign-in.
type EmailOTP struct {
	// Policy is the passcode's limits; whether passcodes are on is the
	// chain's switch (otp.Connector), read in each step's batch.
	Policy otp.Policy
}

// Session is the tenant's session policy (B4).
type Session struct {
	Lifetime time.Duration // absolute: from sign-in
}

// Client is what the apps page needs of a client.
type Client struct {
	ID      string
	HomeURL string // "": not on the apps page
}
