package connectors

import (
	"errors"
	"fmt"
	"sort"
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

// Factory opens a connector of one type, like Dex's ConnectorConfig.Open.
// It runs on every start and on every reload (SIGHUP), while the running
// config keeps serving: it must not dial or do other network I/O that can
// block. Upstreams are reached lazily, on the first sign-in that needs them.
type Factory func(Spec) (Connector, error)

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

// Builtin is the registry of the production binary: every connector type
// this version implements. None of the upstream types is implemented yet
// (they arrive with the federation issue), so a config that names one is
// refused rather than silently ignored.
func Builtin() *Registry { return NewRegistry() }

// Register adds the factory of a type, replacing an earlier one. It returns
// the registry, so registrations chain.
func (r *Registry) Register(typ string, f Factory) *Registry {
	r.factories[typ] = f
	return r
}

// Types lists the registered types, sorted.
func (r *Registry) Types() []string {
	ts := make([]string, 0, len(r.factories))
	for t := range r.factories {
		ts = append(ts, t)
	}
	sort.Strings(ts)
	return ts
}

// Open builds the connector of a spec. A type without a factory is
// ErrNotImplemented, with a message an admin can act on.
func (r *Registry) Open(s Spec) (Connector, error) {
	f, ok := r.factories[s.Type]
	if !ok {
		return nil, &NotImplementedError{Type: s.Type}
	}
	c, err := f(s)
	if err != nil {
		return nil, fmt.Errorf("connector %s (type %s): %w", s.ID, s.Type, err)
	}
	return c, nil
}
