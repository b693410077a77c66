package ldap

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
)

// Type is the connector type in the config file.
const Type = "ldap"

// Defaults of the settings an admin may leave out.
const (
	DefaultTimeout  = 5 * time.Second
	DefaultPoolSize = 4
	DefaultFilter   = "(objectClass=person)"
)

// Options are an ldap connector's settings (PRODUCT.md B2, "ldap").
type Options struct {
	// Host is the directory server: "host:port", "host" (port 636 for
	// LDAPS, 389 with startTLS or insecureNoSSL), or an ldaps:// or
	// ldap:// URL.
	Host string
	// StartTLS upgrades a plain connection (port 389) with StartTLS.
	StartTLS bool
	// InsecureNoSSL talks plain LDAP: passwords cross the network in the
	// clear. Only when explicitly set.
	InsecureNoSSL bool
	// InsecureSkipVerify accepts any server certificate (the config
	// allows it only in dev mode).
	InsecureSkipVerify bool
	// RootCA is a PEM file and RootCAData PEM text of the CAs that sign the
	// server's certificate; both empty: the system's roots.
	RootCA     string
	RootCAData []byte
	// BindDN and BindPW are the service account that searches; both empty:
	// an anonymous search.
	BindDN, BindPW string
	UserSearch     UserSearch
	// Timeout bounds one sign-in's exchanges with the directory (dial,
	// TLS, binds, search); 0: DefaultTimeout. The caller's context
	// deadline bounds it too.
	Timeout time.Duration
	// PoolSize bounds the service-bound connections kept and used at
	// once; 0: DefaultPoolSize.
	PoolSize int
}

// UserSearch says where and how to find a user by address.
type UserSearch struct {
	// BaseDN is where the search starts (the whole subtree).
	BaseDN string
	// Filter narrows the entries ("(objectClass=person)" when empty); the
	// address is ANDed in, escaped.
	Filter string
	// EmailAttr holds the address ("mail"); NameAttr the display name
	// ("cn"), optional.
	EmailAttr, NameAttr string
}

// endpoint is how to reach the server.
type endpoint struct {
	addr     string // host:port
	ldaps    bool   // TLS from the first byte
	startTLS bool
	tls      *tls.Config // nil for plain LDAP
}

// attrRE is an attribute description: a name with options, or an OID.
var attrRE = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9-]*|[0-9]+(\.[0-9]+)+)(;[A-Za-z0-9-]+)*$`)

// check validates o and fills its defaults; it reads the CA file but
// does no network I/O.
func (o *Options) check() (endpoint, error) {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.PoolSize <= 0 {
		o.PoolSize = DefaultPoolSize
	}
	if o.UserSearch.Filter == "" {
		o.UserSearch.Filter = DefaultFilter
	}
	us := o.UserSearch
	if us.BaseDN == "" {
		return endpoint{}, errors.New("userSearch.baseDN is required")
	}
	if _, err := goldap.ParseDN(us.BaseDN); err != nil {
		return endpoint{}, fmt.Errorf("userSearch.baseDN %q is not a DN: %w", us.BaseDN, err)
	}
	if !attrRE.MatchString(us.EmailAttr) {
		return endpoint{}, fmt.Errorf("userSearch.emailAttr %q is not an attribute name (e.g. mail)", us.EmailAttr)
	}
	if us.NameAttr != "" && !attrRE.MatchString(us.NameAttr) {
		return endpoint{}, fmt.Errorf("userSearch.nameAttr %q is not an attribute name (e.g. cn)", us.NameAttr)
	}
	if _, err := goldap.CompileFilter(us.Filter); err != nil {
		return endpoint{}, fmt.Errorf("userSearch.filter %q is not an LDAP filter (write it in parentheses, e.g. %s): %w", us.Filter, DefaultFilter, err)
	}
	if o.BindDN != "" && o.BindPW == "" {
		// An empty password makes a simple bind unauthenticated: it
		// "succeeds" on many servers with no rights at all.
		return endpoint{}, errors.New("bindPW is empty while bindDN is set")
	}
	return o.endpoint()
}

// endpoint reads Host and the TLS keys.
func (o *Options) endpoint() (endpoint, error) {
	if o.StartTLS && o.InsecureNoSSL {
		return endpoint{}, errors.New("startTLS and insecureNoSSL exclude each other")
	}
	host, scheme := o.Host, ""
	if i := strings.Index(host, "://"); i >= 0 {
		u, err := url.Parse(host)
		if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return endpoint{}, fmt.Errorf("host %q is not host:port or an ldap(s)://host:port URL", o.Host)
		}
		scheme, host = u.Scheme, u.Host
	}
	e := endpoint{ldaps: !o.StartTLS && !o.InsecureNoSSL, startTLS: o.StartTLS}
	switch scheme {
	case "":
	case "ldaps":
		if !e.ldaps {
			return endpoint{}, fmt.Errorf("host %q is LDAPS; remove startTLS and insecureNoSSL", o.Host)
		}
	case "ldap":
		if e.ldaps {
			return endpoint{}, fmt.Errorf("host %q is plain LDAP; set startTLS: true (or use ldaps://)", o.Host)
		}
	default:
		return endpoint{}, fmt.Errorf("host %q: scheme %q is neither ldap nor ldaps", o.Host, scheme)
	}
	port := "636"
	if !e.ldaps {
		port = "389"
	}
	h, p, err := net.SplitHostPort(host)
	if err != nil {
		h, p = strings.Trim(host, "[]"), port
	}
	if h == "" {
		return endpoint{}, fmt.Errorf("host %q has no host name", o.Host)
	}
	e.addr = net.JoinHostPort(h, p)
	if e.ldaps || e.startTLS {
		tc, err := o.tlsConfig(h)
		if err != nil {
			return endpoint{}, err
		}
		e.tls = tc
	}
	return e, nil
}

func (o *Options) tlsConfig(serverName string) (*tls.Config, error) {
	tc := &tls.Config{ServerName: serverName, MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.InsecureSkipVerify}
	if o.RootCA == "" && len(o.RootCAData) == 0 {
		return tc, nil // the system's roots
	}
	pool := x509.NewCertPool()
	if o.RootCA != "" {
		pemData, err := os.ReadFile(o.RootCA)
		if err != nil {
			return nil, fmt.Errorf("rootCA: %w", err)
		}
		if !pool.AppendCertsFromPEM(pemData) {
			return nil, fmt.Errorf("rootCA %s holds no PEM certificate", o.RootCA)
		}
	}
	if len(o.RootCAData) > 0 && !pool.AppendCertsFromPEM(o.RootCAData) {
		return nil, errors.New("rootCAData holds no PEM certificate")
	}
	tc.RootCAs = pool
	return tc, nil
}
