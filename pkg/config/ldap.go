package config

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// DefaultLDAPTimeout bounds one sign-in's exchanges with a directory.
const DefaultLDAPTimeout = 5 * time.Second

// LDAPConnector holds the keys of an ldap connector (PRODUCT.md B2),
// inlined in Connector beside the keys every type has.
type LDAPConnector struct {
	// Host is host:port (636: LDAPS unless startTLS or insecureNoSSL), or
	// an ldaps:// or ldap:// URL.
	Host string `yaml:"host"`
	// StartTLS upgrades a plain connection (port 389).
	StartTLS bool `yaml:"startTLS"`
	// InsecureNoSSL talks plain LDAP: passwords in the clear on the wire.
	InsecureNoSSL bool `yaml:"insecureNoSSL"`
	// InsecureSkipVerify accepts any certificate: dev: true only.
	InsecureSkipVerify bool `yaml:"insecureSkipVerify"`
	// RootCA is a PEM file of the CAs of the directory's certificate;
	// RootCAData the PEM text itself. Neither: the system's roots.
	RootCA     string `yaml:"rootCA"`
	RootCAData string `yaml:"rootCAData"`
	// BindDN and BindPW are the service account that searches users;
	// both empty: an anonymous search.
	BindDN     string         `yaml:"bindDN"`
	BindPW     string         `yaml:"bindPW"`
	UserSearch LDAPUserSearch `yaml:"userSearch"`
	// Timeout bounds one sign-in's exchanges with the directory.
	Timeout time.Duration `yaml:"timeout"`
}

// LDAPUserSearch finds a user's entry by address.
type LDAPUserSearch struct {
	BaseDN    string `yaml:"baseDN"`
	Filter    string `yaml:"filter"` // default (objectClass=person); the address is ANDed in
	EmailAttr string `yaml:"emailAttr"`
	NameAttr  string `yaml:"nameAttr"`
}

// ldapAttrRE is an attribute description: a name with options, or an OID.
var ldapAttrRE = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9-]*|[0-9]+(\.[0-9]+)+)(;[A-Za-z0-9-]+)*$`)

// applyLDAPDefaults fills the absent keys of the ldap connector at cp.
func (v *validator) applyLDAPDefaults(l *LDAPConnector, cp string) {
	if !v.tree.present[cp+".timeout"] {
		l.Timeout = DefaultLDAPTimeout
	}
}

// ldap checks the keys of an ldap connector. The connector's factory
// checks them again in depth (a DN's syntax, a filter's), and
// check-config reports what it refuses at the same key.
func (v *validator) ldap(cn *Connector, cp string) {
	if cn.Issuer != "" || cn.ClientID != "" || cn.ClientSecret != "" || len(cn.Scopes) > 0 || len(cn.Users) > 0 {
		v.add(cp, "issuer, clientID, clientSecret, scopes and users do not apply to an ldap connector; remove them")
	}
	l := &cn.LDAPConnector
	v.ldapHost(cp+".host", l)
	if l.StartTLS && l.InsecureNoSSL {
		v.add(cp+".insecureNoSSL", "and startTLS exclude each other; keep startTLS: true (encrypted) and remove insecureNoSSL")
	}
	if l.InsecureNoSSL && (l.InsecureSkipVerify || l.RootCA != "" || l.RootCAData != "") {
		v.add(cp+".insecureNoSSL", "is set, so there is no TLS to verify; remove insecureSkipVerify, rootCA and rootCAData, or remove insecureNoSSL")
	}
	if l.InsecureSkipVerify && !v.dev {
		v.add(cp+".insecureSkipVerify", "accepts any server, so anyone on the path can read the passwords; it is only allowed with dev: true. Give the directory's CA in rootCA (a PEM file) or rootCAData instead")
	}
	if l.RootCA != "" {
		v.pemCerts(cp+".rootCA", l.RootCA, true)
	}
	if l.RootCAData != "" {
		v.pemCerts(cp+".rootCAData", l.RootCAData, false)
	}
	switch {
	case l.BindDN != "" && l.BindPW == "":
		v.add(cp+".bindPW", "is empty while bindDN is set; an empty password makes the bind anonymous. Write the service account's password, e.g. bindPW: ${LDAP_BIND_PW}")
	case l.BindDN == "" && l.BindPW != "":
		v.add(cp+".bindDN", "is empty while bindPW is set; write the service account's DN, e.g. cn=guestpass,ou=services,dc=fabrikam,dc=example")
	case l.BindDN != "" && !strings.Contains(l.BindDN, "="):
		v.add(cp+".bindDN", "%q is not a DN; write e.g. cn=guestpass,ou=services,dc=fabrikam,dc=example", l.BindDN)
	}
	us, up := l.UserSearch, cp+".userSearch"
	switch {
	case us.BaseDN == "":
		v.add(up+".baseDN", "is required; write where users live, e.g. ou=people,dc=fabrikam,dc=example")
	case !strings.Contains(us.BaseDN, "="):
		v.add(up+".baseDN", "%q is not a DN; write e.g. ou=people,dc=fabrikam,dc=example", us.BaseDN)
	}
	switch {
	case us.EmailAttr == "":
		v.add(up+".emailAttr", "is required; write the attribute that holds the address, usually mail")
	case !ldapAttrRE.MatchString(us.EmailAttr):
		v.add(up+".emailAttr", "%q is not an attribute name; write e.g. mail", us.EmailAttr)
	}
	if us.NameAttr != "" && !ldapAttrRE.MatchString(us.NameAttr) {
		v.add(up+".nameAttr", "%q is not an attribute name; write e.g. cn or displayName", us.NameAttr)
	}
	if f := us.Filter; f != "" && (!strings.HasPrefix(f, "(") || !strings.HasSuffix(f, ")") || strings.Count(f, "(") != strings.Count(f, ")")) {
		v.add(up+".filter", "%q is not an LDAP filter; write it in parentheses, e.g. (objectClass=person) or (&(objectClass=person)(!(disabled=TRUE)))", f)
	}
	v.durRange(cp+".timeout", l.Timeout, 100*time.Millisecond, time.Minute, "5s")
}

// ldapHost checks host: host[:port] or ldap[s]://host[:port], and that the
// URL's scheme agrees with startTLS and insecureNoSSL.
func (v *validator) ldapHost(key string, l *LDAPConnector) {
	h := l.Host
	const example = "ldap.fabrikam.example:636 (LDAPS), or ldap.fabrikam.example:389 with startTLS: true"
	if h == "" {
		v.add(key, "is required; write the directory's host:port, e.g. %s", example)
		return
	}
	scheme, rest, hasScheme := strings.Cut(h, "://")
	if !hasScheme {
		rest, scheme = h, ""
	}
	rest = strings.TrimSuffix(rest, "/")
	if strings.ContainsAny(rest, "/ \t?#@") || rest == "" {
		v.add(key, "%q is not host:port; write e.g. %s", h, example)
		return
	}
	switch scheme {
	case "":
	case "ldaps":
		if l.StartTLS || l.InsecureNoSSL {
			v.add(key, "%q is LDAPS (TLS from the start); remove startTLS and insecureNoSSL", h)
		}
	case "ldap":
		if !l.StartTLS && !l.InsecureNoSSL {
			v.add(key, "%q is plain LDAP; add startTLS: true (or write ldaps://)", h)
		}
	default:
		v.add(key, "%q: the scheme must be ldaps:// or ldap://, or none (host:port)", h)
		return
	}
	if _, port, err := net.SplitHostPort(rest); err == nil {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			v.add(key, "%q has port %q; use a port number from 1 to 65535", h, port)
		}
	}
}

// pemCerts checks that a file (isFile) or text holds PEM certificates.
func (v *validator) pemCerts(key, s string, isFile bool) {
	data := []byte(s)
	if isFile {
		var err error
		if data, err = os.ReadFile(s); err != nil {
			v.add(key, "cannot be read (%v); write the path of the CA's PEM file, readable by guestpass (a relative path is from the working directory)", unwrapPathErr(err))
			return
		}
	}
	n := 0
	for len(data) > 0 {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			v.add(key, "holds a certificate that cannot be parsed (%v); export the CA again in PEM", err)
			return
		}
		n++
	}
	if n == 0 {
		v.add(key, "holds no PEM certificate (-----BEGIN CERTIFICATE-----); give the CA that signed the directory's certificate")
	}
}

func unwrapPathErr(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// ldapKeysUsed reports whether a connector of another type sets ldap keys.
func ldapKeysUsed(l LDAPConnector) bool {
	return !reflect.DeepEqual(l, LDAPConnector{})
}

// ldapOnly is the message for ldap keys on another type.
func ldapOnly(typ string) string {
	return fmt.Sprintf("host, bindDN, userSearch and the other ldap keys do not apply to a %s connector; remove them or change the type to ldap", typ)
}
