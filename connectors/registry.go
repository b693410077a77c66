package connectors

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"go.uber.org/zap"
)

// Spec is one configured connector, as a factory sees it: the keys every
// type has, and Options, the type's own settings in the type's own Go type
// (filled by the caller that reads the config file, so connector packages
// never depend on the file's shape).
type Spec struct {
	// Tenant is the id of the tenant the connector serves.
	Tenant  string
	Type    string
	ID      string
	Name    string
	Domains []string
	// Options are the type's settings; nil for types that have none.
	Options any
}

// Env is what the deployment gives every factory besides its Spec.
type Env struct {
	// BaseURL is the deployment's base URL; a tenant's issuer is
	// BaseURL + "/" + tenant, its callback URL issuer + "/login/callback".
	BaseURL string
	// HTTPClient reaches upstream providers; it has timeouts. Never nil
	// when Open is called through a Registry.
	HTTPClient *http.Client
	// Logger is for the connector's own lines (never a password, token or
	// unmasked address). Never nil through a Registry.
	Logger *zap.Logger
	// Clock is the time source (ID token expiry, caches). Never nil
	// through a Registry.
	Clock func() time.Time
	// Tenants answers questions about the deployment's other tenants (the
	// home-tenant connector); nil when nothing provides it.
	Tenants Tenants
}

// Tenants is what a connector may know about the deployment's tenants.
type Tenants interface {
	// Issuer is the issuer URL of the tenant id, and whether it exists.
	Issuer(id string) (string, bool)
	// Domains are the verified domains of the tenant id.
	Domains(id string) []string
}

// Factory opens a connector of one type, like Dex's ConnectorConfig.Open.
// It runs on every start and on every reload (SIGHUP), while the running
// config keeps serving: it must not dial or do other network I/O that can
// block. Upstreams are reached lazily, on the first sign-in that needs them.
// A connector that holds resources (an LDAP connection pool) implements
// io.Closer; the old set is closed once a reload has replaced it.
type Factory func(Spec, Env) (Connector, error)

// Close closes the connectors that hold resources (io.Closer), after a
// reload has replaced them; it returns the first error.
func Close(list []Connector) error {
	var first error
	for _, c := range list {
		if cl, ok := c.(io.Closer); ok {
			if err := cl.Close(); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

// ErrNotImplemented: the config names a connector type this version has no
// factory for. Open returns it as a *NotImplementedError naming the type.
var ErrNotImplemented = errors.New("connector type not implemented")

// NotImplementedError is Open's answer for a type without a factory; it is
// errors.Is ErrNotImplemented.
type NotImplementedError struct{ Type string }

func (e *NotImplementedError) Error() string {
	return fmt.Sprintf("connector type %q is not implemented yet in this version", e.Type)
}

// Is makes errors.Is(err, ErrNotImplemented) true.
func (e *NotImplementedError) Is(target error) bool { return target == ErrNotImplemented }

// Registry maps connector types to their factories. A Registry is filled
// once at start (or in a test) and only read afterwards.
type Registry struct {
	factories map[string]Factory
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{factories: map[string]Factory{}} }

// Register adds the factory of a type. Registering a type twice is a
// programming error (two packages claiming one type) and panics. It
// returns the registry, so registrations chain.
func (r *Registry) Register(typ string, f Factory) *Registry {
	if _, dup := r.factories[typ]; dup {
		panic(fmt.Sprintf("connectors: type %q registered twice", typ))
	}
	r.factories[typ] = f
	return r
}

// Open builds the connector of a spec. A type without a factory is
// ErrNotImplemented, with a message an admin can act on. Env's nil parts
// get defaults: an HTTP client with a 10 s timeout, a no-op logger, and
// time.Now.
func (r *Registry) Open(s Spec, env Env) (Connector, error) {
	f, ok := r.factories[s.Type]
	if !ok {
		return nil, &NotImplementedError{Type: s.Type}
	}
	if env.HTTPClient == nil {
		env.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if env.Logger == nil {
		env.Logger = zap.NewNop()
	}
	if env.Clock == nil {
		env.Clock = time.Now
	}
	c, err := f(s, env)
	if err != nil {
		return nil, fmt.Errorf("connector %s (type %s): %w", s.ID, s.Type, err)
	}
	return c, nil
}
