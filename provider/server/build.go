package server

import (
	"encoding/base64"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/guestpass/guestpass/connectors"
	"github.com/guestpass/guestpass/connectors/otp"
	"github.com/guestpass/guestpass/pkg/clientip"
	"github.com/guestpass/guestpass/pkg/config"
	"github.com/guestpass/guestpass/pkg/derive"
	"github.com/guestpass/guestpass/pkg/guests"
	"github.com/guestpass/guestpass/pkg/mail"
	"github.com/guestpass/guestpass/pkg/metrics"
	"github.com/guestpass/guestpass/pkg/policy"
	"github.com/guestpass/guestpass/pkg/session"
	"github.com/guestpass/guestpass/pkg/store"
	"github.com/guestpass/guestpass/provider/admin"
	"github.com/guestpass/guestpass/provider/login"
	"github.com/guestpass/guestpass/provider/op"
	"github.com/guestpass/guestpass/provider/pages"
	"github.com/guestpass/guestpass/provider/redeem"
	"github.com/guestpass/guestpass/templates"
)

// Deps are the long-lived parts a handler is built on. They outlive a
// config reload; everything else is rebuilt from the config.
type Deps struct {
	Config  *config.Config
	Store   store.Store
	Mailer  login.Mailer
	Logger  *zap.Logger
	Metrics *metrics.Metrics
	Clock   func() time.Time
	// Connectors opens the tenants' connectors by type; nil is
	// Builtin (tests register the mock connectors).
	Connectors *connectors.Registry
	// UpstreamTimeout bounds each call to a connector's backend; zero is
	// login.DefaultUpstreamTimeout (10 s). Not a config key yet: the
	// default suits every upstream we know, and tests shorten it here.
	UpstreamTimeout time.Duration
}

// Build wires a complete guestpass handler for a config. The caller owns
// the handler's connectors: Close it once a reload has replaced it, or at
// shutdown.
func Build(d Deps) (_ *Handler, err error) {
	cfg := d.Config
	if d.Clock == nil {
		d.Clock = time.Now
	}
	st := d.Store
	pageFS, mailFS, err := templateFS(cfg.TemplatesDir)
	if err != nil {
		return nil, err
	}
	pg, err := pages.New(pageFS)
	if err != nil {
		return nil, fmt.Errorf("pages: %w", err)
	}
	mr, err := mail.NewRenderer(mailFS)
	if err != nil {
		return nil, fmt.Errorf("mail templates: %w", err)
	}
	cookieOpts := session.Options{
		HashKey:  cfg.Secrets.CookieHash,
		BlockKey: cfg.Secrets.CookieBlock,
		Secure:   strings.HasPrefix(cfg.BaseURL, "https://"),
		Clock:    d.Clock,
	}
	if err := cookieOpts.Validate(); err != nil {
		return nil, err
	}
	sessions := session.NewManager(st, cookieOpts)
	flows := session.NewFlows(cookieOpts)
	devices := session.NewDevices(cookieOpts)
	clients := clientip.New(cfg.TrustedNets)
	gr := guests.NewRepo(st, cfg.Secrets.Code, d.Clock)
	pol := policy.New(st)
	invitations := guests.NewInvitations(st, derive.Key(cfg.Secrets.Code, "guestpass/invitations"), d.Clock)
	issuer := otp.NewIssuer(st, cfg.Secrets.Code, d.Clock)
	opLog := slog.New(NewSlogHandler(d.Logger.Named("op")))
	opened, err := openConnectors(cfg, d.Connectors, connectors.Env{Logger: d.Logger.Named("connector"), Clock: d.Clock})
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil { // nothing will serve with them: free what they hold
			for _, list := range opened {
				_ = connectors.Close(list)
			}
		}
	}()

	tenants := make(map[string]Tenant, len(cfg.Tenants))
	for _, t := range cfg.Tenants {
		settings := opTenant(t)
		settings.Clients = append(settings.Clients, impliedClients(cfg, t.ID)...)
		settings.Clients = append(settings.Clients, redeemClient(cfg, t))
		provider, err := op.New(op.Options{
			BaseURL: cfg.BaseURL, Tenant: settings, Store: st, Secret: cfg.Secrets.Code,
			Sessions: sessions, Flows: flows, Clock: d.Clock, Logger: opLog, Pages: pg, KeyRotation: cfg.Keys.Rotation,
			ClientIP: clients, AuthorizePerIPPerMinute: cfg.AuthorizePerIPPerMinute,
			ErrorPage: func(w http.ResponseWriter, r *http.Request, status int, key pages.MessageKey) {
				pg.Render(w, r, pages.PageError, pages.Data{Status: status, Message: key, Tenant: branding(t)})
			},
		})
		if err != nil {
			return nil, err
		}
		lh := login.New(login.Deps{
			Tenant: loginTenant(t), OP: provider, Store: st, Guests: gr.For(t.ID), Sessions: sessions.For(t.ID),
			Flows: flows.For(t.ID), Devices: devices.For(t.ID), ClientIP: clients, Chain: chainOf(t, opened[t.ID], issuer, pol), BaseURL: cfg.BaseURL,
			Mail: mr, Mailer: d.Mailer, Pages: pg,
			Logger: d.Logger.With(zap.String("tenant", t.ID)), Metrics: d.Metrics, Clock: d.Clock,
			UpstreamTimeout: d.UpstreamTimeout,
		})
		provider.SetStarter(lh)
		adm := admin.New(admin.Options{
			Tenant: t.ID, DisplayName: t.DisplayName, AccentColor: t.Branding.AccentColor, Issuer: provider.Issuer(),
			InvitationTTL: t.Invitations.TTL, EmailOTPDefault: t.EmailOTP.Enabled, InviterNames: adminNames(t),
			Verifier: provider, Guests: gr.For(t.ID), Invitations: invitations, Policies: pol,
			Mail: mr, Mailer: d.Mailer, ErrTokenInvalid: op.ErrTokenInvalid, ErrNotAdmin: op.ErrNotAdmin,
			Logger: d.Logger.Named("admin"),
		})
		rd := redeem.New(redeem.Options{
			Tenant: branding(t), Issuer: provider.Issuer(), HashKey: cookieOpts.HashKey, BlockKey: cookieOpts.BlockKey,
			Secure: cookieOpts.Secure, Invitations: invitations, Sessions: sessions, Pages: pg,
			Logger: d.Logger.Named("redeem"),
		})
		routes := lh.Routes()
		for pattern, fn := range rd.Routes() {
			method, path, _ := strings.Cut(pattern, " ")
			routes = append(routes, login.Route{Method: method, Path: path, Handler: fn})
		}
		tenants[t.ID] = Tenant{Pages: routes, OP: provider, Admin: adm}
	}
	return newHandler(NewRouter(cfg, tenants, st, pg, d.Logger, d.Metrics), opened), nil
}

// templateFS picks, for pages and for mails, the admin's directory when it
// has that part (dir/pages, dir/mail) and the embedded templates otherwise.
func templateFS(dir string) (pagesFS, mailFS fs.FS, err error) {
	pagesFS, mailFS = templates.FS, templates.FS
	if dir == "" {
		return pagesFS, mailFS, nil
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, nil, fmt.Errorf("templatesDir %q is not a readable directory", dir)
	}
	admin := os.DirFS(dir)
	if st, err := fs.Stat(admin, "pages"); err == nil && st.IsDir() {
		pagesFS = admin
	}
	if st, err := fs.Stat(admin, "mail"); err == nil && st.IsDir() {
		mailFS = admin
	}
	return pagesFS, mailFS, nil
}

// redeemClient is the tenant's implied client of its own invitation links
// (provider/redeem): its one redirect URI is a guestpass route, it is
// confidential with a derived secret nobody uses (the code it gets is
// never exchanged: the session is the proof), and it is on no apps page.
func redeemClient(cfg *config.Config, t config.Tenant) op.Client {
	issuer := t.Issuer(cfg.BaseURL)
	return op.Client{
		ID: redeem.ClientID, Name: t.DisplayName,
		Secret:       base64.RawURLEncoding.EncodeToString(derive.Key(cfg.Secrets.Code, "guestpass/redeem-client/"+t.ID)),
		RedirectURIs: []string{redeem.CallbackURL(issuer)},
	}
}

// adminNames are the names of the tenant's admin clients by id: the
// invitation mail names who invited the guest.
func adminNames(t config.Tenant) map[string]string {
	out := make(map[string]string)
	for _, c := range t.Clients {
		if c.Admin && c.Name != "" {
			out[c.ID] = c.Name
		}
	}
	return out
}
