package server

import (
	"github.com/guestpass/guestpass/connectors/otp"
	"github.com/guestpass/guestpass/pkg/config"
	"github.com/guestpass/guestpass/pkg/mail"
	"github.com/guestpass/guestpass/provider/login"
	"github.com/guestpass/guestpass/provider/op"
	"github.com/guestpass/guestpass/provider/pages"
)

// The config's types stay at the edge: each package below takes options
// of its own, converted here from a loaded config.

// branding is how a configured tenant's pages look.
func branding(t config.Tenant) pages.Branding {
	return pages.Branding{TenantID: t.ID, DisplayName: t.DisplayName, LogoURL: t.Branding.LogoURL, AccentColor: t.Branding.AccentColor}
}

// otpPolicy is a tenant's passcode policy. The loader has filled the
// defaults; zero fields left still get otp's (ResendCooldown excepted).
func otpPolicy(c config.EmailOTP) otp.Policy {
	return otp.Policy{
		CodeTTL:            c.CodeTTL,
		MaxAttempts:        c.MaxAttempts,
		ResendCooldown:     c.ResendCooldown,
		MaxCodesPerHour:    c.MaxCodesPerHour,
		MaxFailuresPerHour: c.MaxFailuresPerHour,

		MaxAddressesPerFlow:      c.MaxAddressesPerFlow,
		MaxCodesPerIPPerHour:     c.MaxCodesPerIPPerHour,
		MaxCodesPerTenantPerHour: c.MaxCodesPerTenantPerHour,
	}.WithDefaults()
}

// loginTenant is what a tenant's sign-in pages know of it.
func loginTenant(t config.Tenant) login.Tenant {
	lt := login.Tenant{
		ID:                t.ID,
		Branding:          branding(t),
		SelfServiceSignUp: t.SelfServiceSignUp,
		EmailOTP:          login.EmailOTP{Policy: otpPolicy(t.EmailOTP)},
		Session:           login.Session{Lifetime: t.Session.Lifetime},
	}
	for _, c := range t.Clients {
		lt.Clients = append(lt.Clients, login.Client{ID: c.ID, HomeURL: c.HomeURL})
	}
	return lt
}

// opTenant is what a tenant's OP is configured with.
func opTenant(t config.Tenant) op.TenantSettings {
	return op.TenantSettings{ID: t.ID, Clients: opClients(t.Clients), SessionLifetime: t.Session.Lifetime, Branding: branding(t)}
}

// opClients are a tenant's clients as its OP takes them.
func opClients(cs []config.Client) []op.Client {
	out := make([]op.Client, 0, len(cs))
	for _, c := range cs {
		out = append(out, op.Client{
			ID: c.ID, Name: c.Name, Secret: c.Secret, Admin: c.Admin,
			RedirectURIs: c.RedirectURIs, PostLogoutRedirectURIs: c.PostLogoutRedirectURIs, AllowedOrigins: c.AllowedOrigins,
			IDTokenSigningAlg: c.IDTokenSigningAlg,
		})
	}
	return out
}

// SMTPOptions are the mail transport's options from mail.smtp.
func SMTPOptions(c config.SMTP) mail.SMTPOptions {
	return mail.SMTPOptions{Addr: c.Addr, Username: c.Username, Password: c.Password, TLS: c.TLS, PoolSize: c.PoolSize}
}
