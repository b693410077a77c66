package config

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"golang.org/x/net/idna"

	"github.com/guestpass/guestpass/pkg/canon"
	"github.com/guestpass/guestpass/pkg/passhash"
)

// validator collects every problem of a decoded config.
type validator struct {
	tree  *tree
	unset map[string][]string // key path -> unset variables it referenced
	probs []Problem
	dev   bool // the config's dev: true (allows what only development may)
}

// add records a problem at key. msg should read "what is wrong; how to fix
// it". When the key referenced an unset environment variable, the message
// says so, since that is the likely cause.
func (v *validator) add(key, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if names := v.unset[key]; len(names) > 0 {
		msg += " (" + varList(names) + " not set in the environment)"
	}
	v.probs = append(v.probs, Problem{Key: key, Line: v.tree.lineOf(key), Message: msg})
}

var (
	slugRE  = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)
	guidRE  = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	labelRE = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)
	colorRE = regexp.MustCompile(`^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)
)

func (v *validator) validate(c *Config) {
	v.dev = c.Dev
	v.baseURL(c.BaseURL)
	v.hostPort("listen", c.Listen, "127.0.0.1:8080")
	v.metrics(c)
	v.keys(c)
	v.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	v.oneOf("log.format", c.Log.Format, "console", "json")
	v.store(&c.Store)
	v.secrets(c)
	v.mail(c)
	v.tenants(c)
	v.network(&c.Network)
}

func (v *validator) oneOf(key, got string, allowed ...string) bool {
	for _, a := range allowed {
		if got == a {
			return true
		}
	}
	if got == "" {
		v.add(key, "is required; set one of %s", strings.Join(allowed, ", "))
		return false
	}
	v.add(key, "%q is not allowed; use one of %s", got, strings.Join(allowed, ", "))
	return false
}

func (v *validator) baseURL(s string) {
	const key = "baseURL"
	if s == "" {
		v.add(key, "is required; set the public URL guestpass is reached at, e.g. https://id.example.com")
		return
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		v.add(key, "%q is not an absolute http(s) URL; use e.g. https://id.example.com", s)
		return
	}
	if u.User != nil {
		v.add(key, "%q contains a user name; remove the part before @", s)
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(s, "#") {
		v.add(key, "%q has a query or fragment; remove everything from ? or #", s)
		return
	}
	if strings.HasSuffix(s, "/") {
		v.add(key, "%q ends with a slash; write %q (issuers are {baseURL}/{tenant})", s, strings.TrimRight(s, "/"))
	}
	if u.Scheme == "http" && !canon.LoopbackHost(u.Hostname()) {
		v.add(key, "%q uses http on a public host; use https (http is only allowed for localhost, 127.0.0.1 and ::1)", s)
	}
}

// hostPort checks "host:port" with a numeric port 1..65535; the host may be
// empty (all interfaces).
func (v *validator) hostPort(key, s, example string) {
	if s == "" {
		v.add(key, "is required; write host:port, e.g. %s", example)
		return
	}
	if strings.ContainsAny(s, "/ \t") {
		v.add(key, "%s is not host:port; write it without scheme or path, e.g. %s", shown(s), example)
		return
	}
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		v.add(key, "%s is not host:port; write e.g. %s (IPv6: [::1]:8080)", shown(s), example)
		return
	}
	n, err := strconv.Atoi(port)
	switch {
	case err == nil && n >= 1 && n <= 65535:
	case mayHoldSecret(s):
		v.add(key, "%s has no port from 1 to 65535; write host:port, e.g. %s", shown(s), example)
	default:
		v.add(key, "%s has port %q; use a port number from 1 to 65535", shown(s), port)
	}
}

// shown is an address as a config error quotes it, unless it may carry
// credentials: errors are printed by check-config and logged at a reload.
func shown(s string) string {
	if mayHoldSecret(s) {
		return "the address (not shown: it may hold a password)"
	}
	return strconv.Quote(s)
}

// mayHoldSecret: an address with a URL's user:password@ or a query (go-redis
// takes ?password=), either of which an error would otherwise quote.
func mayHoldSecret(s string) bool { return strings.ContainsAny(s, "@?") }

func (v *validator) store(s *Store) {
	if !v.oneOf("store.type", s.Type, "memory", "redis") || s.Type != "redis" {
		return
	}
	if len(s.Redis.Addrs) == 0 {
		v.add("store.redis.addrs", "is required when store.type is redis; list one or more host:port, e.g. [\"127.0.0.1:6379\"], or one unix socket, e.g. [\"unix:///run/redis/redis.sock\"]")
	}
	for i, a := range s.Redis.Addrs {
		key := fmt.Sprintf("store.redis.addrs[%d]", i)
		path, isSocket := redisSocket(a)
		if !isSocket {
			v.hostPort(key, a, "127.0.0.1:6379")
			continue
		}
		if v.redisSocketPath(key, a, path, &s.Redis) {
			// The store takes a socket as its bare path (go-redis dials
			// a unix socket for an address that starts with '/').
			s.Redis.Addrs[i] = path
		}
	}
	if s.Redis.DB < 0 {
		v.add("store.redis.db", "%d is negative; use a database number from 0 (the default)", s.Redis.DB)
	}
	if s.Redis.DB != 0 && len(s.Redis.Addrs) > 1 && s.Redis.MasterName == "" {
		v.add("store.redis.db", "a Redis Cluster has only database 0; remove db or set it to 0")
	}
	if strings.ContainsAny(s.Redis.KeyPrefix, "{}") {
		v.add("store.redis.keyPrefix", "%q contains { or }, which would break the Cluster hash tags of the keys; remove them", s.Redis.KeyPrefix)
	}
}

// redisSocket tells whether a store.redis.addrs entry names a unix
// socket, written unix:///path or as the bare absolute path (as in
// redis.conf's unixsocket), and returns what follows "unix://".
func redisSocket(a string) (path string, isSocket bool) {
	if rest, ok := strings.CutPrefix(a, "unix:"); ok {
		return strings.TrimPrefix(rest, "//"), true
	}
	return a, strings.HasPrefix(a, "/")
}

// maxSocketPath is the longest unix socket path Linux can dial (sun_path
// holds 108 bytes with the terminating NUL); a longer one fails only at
// the first connection.
const maxSocketPath = 107

// redisSocketPath checks a unix socket address (a as written, path its
// file) and reports whether it is usable. An address that is not a plain
// path is not quoted back: a go-redis URL carries its password there
// (unix://user:password@/path, ?password=), and problems reach the log
// on a reload.
func (v *validator) redisSocketPath(key, a, path string, r *Redis) bool {
	const example = "unix:///run/redis/redis.sock"
	switch {
	case !strings.HasPrefix(path, "/"):
		v.add(key, "is not a unix socket address; write unix:// and an absolute path, e.g. %s", example)
	case strings.Contains(path, "?"):
		v.add(key, "has a query; a socket address is only its path: set db, username and password under store.redis")
	case len(path) > maxSocketPath:
		v.add(key, "%s is %d bytes long; a unix socket path has at most %d: use a shorter path", shown(a), len(path), maxSocketPath)
	case r.MasterName != "":
		v.add(key, "%s is a unix socket, but masterName is set: Sentinels announce the master's TCP address; list the sentinels as host:port", shown(a))
	case len(r.Addrs) > 1:
		v.add(key, "%s is a unix socket, which only a single node may use: Cluster nodes announce TCP addresses; list every node as host:port", shown(a))
	default:
		return true
	}
	return false
}

// maxMailQueuePerTenant bounds the mail held in memory for one tenant:
// codes older than a queue this long would expire before delivery anyway.
const maxMailQueuePerTenant = 100_000

func (v *validator) mail(c *Config) {
	m := &c.Mail
	if m.From == "" {
		v.add("mail.from", "is required; write the sender, e.g. \"guestpass <no-reply@example.com>\"")
	} else if strings.ContainsAny(m.From, "\r\n\x00") {
		v.add("mail.from", "contains a line break or NUL; write the sender on one line, e.g. \"guestpass <no-reply@example.com>\"")
	} else if a, err := mail.ParseAddress(m.From); err != nil || !strings.Contains(a.Address, "@") {
		v.add("mail.from", "%q is not a mail address; write e.g. \"guestpass <no-reply@example.com>\"", m.From)
	}
	if m.QueuePerTenant < 1 || m.QueuePerTenant > maxMailQueuePerTenant {
		v.add("mail.queuePerTenant", "%d is out of range; use 1 to %d mails (default %d)",
			m.QueuePerTenant, maxMailQueuePerTenant, DefaultMailQueuePerTenant)
	}
	if !v.oneOf("mail.driver", m.Driver, "smtp", "log") {
		return
	}
	if m.Driver == "log" && !c.Dev {
		v.add("mail.driver", "\"log\" writes passcodes into the log and is for development only; use smtp, or set dev: true on a development machine")
	}
	if m.Driver != "smtp" {
		return
	}
	s := &m.SMTP
	v.hostPort("mail.smtp.addr", s.Addr, "127.0.0.1:1025")
	v.oneOf("mail.smtp.tls", s.TLS, "none", "starttls", "tls")
	if s.PoolSize < 1 || s.PoolSize > 64 {
		v.add("mail.smtp.poolSize", "%d is out of range; use 1 to 64 connections (default 4)", s.PoolSize)
	}
	if s.Username != "" && s.TLS == "none" {
		if host, _, err := net.SplitHostPort(s.Addr); err == nil && !canon.LoopbackHost(host) {
			v.add("mail.smtp.tls", "is none but a username is set, so the password would cross the network in clear; use starttls or tls")
		}
	}
}

// decodeSecret accepts standard or URL-safe base64, padded or not, because
// admins paste keys from different tools.
func decodeSecret(s string) ([]byte, bool) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding,
	} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}

func (v *validator) secrets(c *Config) {
	type spec struct {
		key   string
		value *string
		out   *[]byte
		sizes []int // allowed sizes; a single negative entry -n means "at least n"
		gen   int
		env   string
		want  string
	}
	specs := []spec{
		{"secrets.cookieHashKey", &c.Secrets.CookieHashKey, &c.Secrets.CookieHash, []int{32, 64}, 64, "GUESTPASS_COOKIE_HASH_KEY", "32 or 64 bytes"},
		{"secrets.cookieBlockKey", &c.Secrets.CookieBlockKey, &c.Secrets.CookieBlock, []int{16, 24, 32}, 32, "GUESTPASS_COOKIE_BLOCK_KEY", "16, 24 or 32 bytes (an AES key)"},
		{"secrets.codeKey", &c.Secrets.CodeKey, &c.Secrets.Code, []int{-32}, 32, "GUESTPASS_CODE_KEY", "at least 32 bytes"},
	}
	for _, s := range specs {
		if *s.value == "" {
			if c.Dev {
				b, err := randomBytes(s.gen)
				if err != nil {
					v.add(s.key, "could not be generated: %v; set it explicitly", err)
					continue
				}
				*s.out = b
				*s.value = base64.StdEncoding.EncodeToString(b)
				c.GeneratedSecrets = true
				continue
			}
			v.add(s.key, "is required; run `guestpass gen-secrets` and set %s (or set dev: true on a development machine)", s.env)
			continue
		}
		b, ok := decodeSecret(*s.value)
		if !ok {
			v.add(s.key, "is not base64; use the value printed by `guestpass gen-secrets`")
			continue
		}
		if !sizeOK(len(b), s.sizes) {
			v.add(s.key, "decodes to %d bytes but must be %s; use the value printed by `guestpass gen-secrets`", len(b), s.want)
			continue
		}
		*s.out = b
	}
}

func sizeOK(n int, sizes []int) bool {
	for _, s := range sizes {
		if n == s || (s < 0 && n >= -s) {
			return true
		}
	}
	return false
}

func hasControl(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return true
		}
	}
	return false
}

func (v *validator) tenants(c *Config) {
	if len(c.Tenants) == 0 {
		v.add("tenants", "no tenant is configured; add at least one under tenants: (see config/example.yaml)")
		return
	}
	ids := map[string]string{}     // id -> key of first use
	domains := map[string]string{} // domain -> key of first use
	for i := range c.Tenants {
		t := &c.Tenants[i]
		p := fmt.Sprintf("tenants[%d]", i)
		if v.tenantID(p+".id", t.ID) {
			if first, dup := ids[t.ID]; dup {
				v.add(p+".id", "%q is already the id of %s; tenant ids must be unique", t.ID, parentKey(first))
			} else {
				ids[t.ID] = p + ".id"
			}
		}
	}
	for i := range c.Tenants {
		t := &c.Tenants[i]
		p := fmt.Sprintf("tenants[%d]", i)
		v.tenant(c, t, p, ids, domains)
	}
}

func (v *validator) tenantID(key, id string) bool {
	switch {
	case id == "":
		v.add(key, "is required; use a lowercase slug such as fabrikam, or a GUID")
	case IsReservedTenantID(id):
		v.add(key, "%q is reserved for a route of the server; choose another id, e.g. %s-org", id, strings.ToLower(id))
	case slugRE.MatchString(strings.ToLower(id)) && id != strings.ToLower(id):
		v.add(key, "%q has upper-case letters; write %q (tenant ids are lowercase)", id, strings.ToLower(id))
	case !slugRE.MatchString(id) && !guidRE.MatchString(id):
		v.add(key, "%q is not a valid tenant id; use 1-63 lowercase letters, digits and inner hyphens (e.g. fabrikam), or a lowercase GUID", id)
	default:
		return true
	}
	return false
}

func (v *validator) tenant(c *Config, t *Tenant, p string, ids, domains map[string]string) {
	if hasControl(t.DisplayName) {
		v.add(p+".displayName", "contains a control character (e.g. a line break); write the name on one line")
	} else if len(t.DisplayName) > 100 {
		v.add(p+".displayName", "is %d bytes long; shorten it to at most 100", len(t.DisplayName))
	}
	for j, d := range t.Domains {
		k := fmt.Sprintf("%s.domains[%d]", p, j)
		if !v.dnsName(k, d) {
			continue
		}
		switch first, dup := domains[d]; {
		case dup && parentKey(first) == p+".domains":
			v.add(k, "%q is listed twice; remove the duplicate", d)
		case dup:
			v.add(k, "%q is already a domain of %s; a domain belongs to one tenant only", d, parentKey(parentKey(first)))
		case ids[d] != "":
			v.add(k, "%q is also a tenant id; choose domains that are not tenant ids", d)
		case IsReservedTenantID(d):
			v.add(k, "%q is a reserved path of the server; remove it", d)
		default:
			domains[d] = k
		}
	}
	if u := t.Branding.LogoURL; u != "" {
		pu, err := url.Parse(u)
		if err != nil || pu.Scheme != "https" || pu.Host == "" || pu.User != nil {
			v.add(p+".branding.logoURL", "%q is not an absolute https URL; use e.g. https://cdn.example/logo.svg, or leave it empty", u)
		}
	}
	if !colorRE.MatchString(t.Branding.AccentColor) {
		v.add(p+".branding.accentColor", "%q is not a colour; write #rgb or #rrggbb, e.g. #0b5cad", t.Branding.AccentColor)
	}
	o := p + ".emailOTP."
	e := &t.EmailOTP
	v.durRange(o+"codeTTL", e.CodeTTL, time.Minute, 24*time.Hour, "30m")
	v.intRange(o+"maxAttempts", e.MaxAttempts, 1, 10, 5)
	v.durRange(o+"resendCooldown", e.ResendCooldown, 0, time.Hour, "60s")
	v.intRange(o+"maxCodesPerHour", e.MaxCodesPerHour, 1, 1000, 10)
	v.intRange(o+"maxFailuresPerHour", e.MaxFailuresPerHour, 1, 10000, 20)
	v.abuseLimits(o, e.AbuseLimits)
	v.durRange(p+".session.lifetime", t.Session.Lifetime, time.Minute, 30*24*time.Hour, "24h")
	v.durRange(p+".invitations.ttl", t.Invitations.TTL, time.Hour, 365*24*time.Hour, "720h")

	v.connectors(c, t, p)
	v.clients(c, t, p)
}

func (v *validator) durRange(key string, d, lo, hi time.Duration, def string) {
	if d < lo || d > hi {
		v.add(key, "%s is out of range; use a value from %s to %s (default %s)", d, fmtDur(lo), fmtDur(hi), def)
	}
}

func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd (%s)", d/(24*time.Hour), strings.TrimSuffix(strings.TrimSuffix(d.String(), "0s"), "0m"))
	case d%time.Hour == 0:
		return strings.TrimSuffix(strings.TrimSuffix(d.String(), "0s"), "0m")
	case d%time.Minute == 0:
		return strings.TrimSuffix(d.String(), "0s")
	}
	return d.String()
}

func (v *validator) intRange(key string, n, lo, hi, def int) {
	if n < lo || n > hi {
		v.add(key, "%d is out of range; use a value from %d to %d (default %d)", n, lo, hi, def)
	}
}

// dnsName checks a lowercase ASCII DNS name with at least two labels.
func (v *validator) dnsName(key, d string) bool {
	if d == "" {
		v.add(key, "is empty; write a domain name such as fabrikam.example")
		return false
	}
	if strings.HasSuffix(d, ".") {
		v.add(key, "%q ends with a dot; write %q", d, strings.TrimSuffix(d, "."))
		return false
	}
	for _, r := range d {
		if r > unicode.MaxASCII {
			if a, err := idna.Lookup.ToASCII(d); err == nil {
				v.add(key, "%q is not in ASCII form; write %q", d, a)
			} else {
				v.add(key, "%q is not a valid domain name; write its ASCII (punycode) form", d)
			}
			return false
		}
	}
	if l := strings.ToLower(d); l != d {
		v.add(key, "%q has upper-case letters; write %q", d, l)
		return false
	}
	labels := strings.Split(d, ".")
	ok := len(d) <= 253 && len(labels) >= 2
	for _, l := range labels {
		ok = ok && labelRE.MatchString(l)
	}
	last := labels[len(labels)-1]
	if _, err := strconv.Atoi(last); err == nil {
		ok = false // an IP address, not a name
	}
	if !ok {
		v.add(key, "%q is not a valid domain name; write e.g. fabrikam.example (letters, digits, inner hyphens, at least one dot)", d)
	}
	return ok
}

func (v *validator) connectors(c *Config, t *Tenant, p string) {
	ids := map[string]string{}
	presets := map[string]string{} // microsoft/google -> connector key
	claimed := map[string]string{} // domain -> connector key
	for j := range t.Connectors {
		cn := &t.Connectors[j]
		cp := fmt.Sprintf("%s.connectors[%d]", p, j)
		// Every type listed here is implemented; the connector registry
		// still refuses a type it has no factory for, naming it
		// (server.CheckConnectors).
		if !v.oneOf(cp+".type", cn.Type, "directory", "microsoft", "google", "oidc", "ldap", "tenant") {
			continue
		}
		if !slugRE.MatchString(cn.ID) {
			v.add(cp+".id", "%q is not a valid connector id; use lowercase letters, digits and inner hyphens, e.g. staff", cn.ID)
		} else if cn.ID == "otp" {
			// The email passcode is every chain's last member under this
			// id; a second "otp" would make callbacks and sources ambiguous.
			v.add(cp+".id", "\"otp\" is reserved for the email passcode; choose another id, e.g. %s-accounts", cn.Type)
		} else if first, dup := ids[cn.ID]; dup {
			v.add(cp+".id", "%q is already used by %s; connector ids must be unique in a tenant (the id defaults to the type)", cn.ID, first)
		} else {
			ids[cn.ID] = cp
		}
		if hasControl(cn.Name) {
			v.add(cp+".name", "contains a control character; write the name on one line")
		}
		if cn.Home != "" && cn.Type != "tenant" {
			v.add(cp+".home", "only tenant connectors have a home tenant; remove it or change the type")
		}
		if len(cn.Domains) == 0 {
			v.add(cp+".domains", "is empty; list the email domains this connector signs in, e.g. [%s]", exampleDomain(cn.Type))
		}
		for k, d := range cn.Domains {
			dk := fmt.Sprintf("%s.domains[%d]", cp, k)
			if !v.dnsName(dk, d) {
				continue
			}
			if cn.Type == "google" && d != "gmail.com" && d != "googlemail.com" {
				v.add(dk, "%q: Google federation only covers gmail.com and googlemail.com; use an oidc connector for other domains", d)
				continue
			}
			if first, dup := claimed[d]; dup {
				v.add(dk, "%q is already claimed by %s; connectors are tried in order, so this one would never be used for it; remove one", d, first)
				continue
			}
			claimed[d] = cp
		}
		if cn.Type == "ldap" {
			v.ldap(cn, cp)
			continue
		}
		if ldapKeysUsed(cn.LDAPConnector) {
			v.add(cp, "%s", ldapOnly(cn.Type))
		}
		if cn.Type == "directory" {
			v.directory(cn, cp)
			continue
		}
		if cn.Type == "tenant" {
			v.homeTenant(c, t, cn, cp)
			continue
		}
		if len(cn.Users) > 0 {
			v.add(cp+".users", "only directory connectors have users; remove them or change the type")
		}
		v.upstream(cn, cp, presets)
	}
}

// homeTenant checks a tenant connector: its home is another tenant of this
// deployment, and it claims only domains that tenant verified. Because a
// domain belongs to one tenant only, that subset rule also rules out cycles
// (A sending an address to B, which sends it back to A): B can never send
// on an address of its own domains.
func (v *validator) homeTenant(c *Config, t *Tenant, cn *Connector, cp string) {
	if cn.Issuer != "" || cn.ClientID != "" || cn.ClientSecret != "" || len(cn.Scopes) > 0 || len(cn.Users) > 0 {
		v.add(cp, "issuer, clientID, clientSecret, scopes and users do not apply to a tenant connector (the home tenant's client and secret are implied); remove them")
	}
	home := c.Tenant(cn.Home)
	switch {
	case cn.Home == "":
		v.add(cp+".home", "is required; write the id of the tenant these people belong to, e.g. home: %s", otherTenant(c, t.ID))
		return
	case cn.Home == t.ID:
		v.add(cp+".home", "%q is this tenant itself; a home tenant is another tenant of this deployment (its own members sign in through its own connectors)", cn.Home)
		return
	case home == nil:
		v.add(cp+".home", "%q is not a tenant of this deployment; write the id of one of its tenants, e.g. home: %s", cn.Home, otherTenant(c, t.ID))
		return
	case len(home.Domains) == 0:
		v.add(cp+".home", "tenant %q has no verified domains, so no address could be sent there; list its domains under that tenant's domains first", cn.Home)
		return
	}
	for k, d := range cn.Domains {
		if !slices.Contains(home.Domains, d) {
			v.add(fmt.Sprintf("%s.domains[%d]", cp, k), "%q is not a verified domain of tenant %q (its domains: %s); remove it, or leave domains out to take all of them",
				d, cn.Home, strings.Join(home.Domains, ", "))
		}
	}
}

// otherTenant is an example home for messages: the first tenant that is
// not self.
func otherTenant(c *Config, self string) string {
	for _, t := range c.Tenants {
		if t.ID != self && t.ID != "" {
			return t.ID
		}
	}
	return "contoso"
}

// upstream checks an OpenID connector (oidc, microsoft, google). The
// presets stand for one provider each, whose guests are recorded with the
// bare source "microsoft" or "google": a second one in a tenant could not
// be told apart on its guests.
func (v *validator) upstream(cn *Connector, cp string, presets map[string]string) {
	if cn.Type != "oidc" {
		if first, dup := presets[cn.Type]; dup {
			v.add(cp+".type", "a tenant has at most one %s connector, and %s is one already; remove one (use an oidc connector for another provider)", cn.Type, first)
		} else {
			presets[cn.Type] = cp
		}
	}
	v.issuer(cp+".issuer", cn.Issuer)
	if cn.ClientID == "" {
		v.add(cp+".clientID", "is required; copy the client id registered at the upstream provider")
	}
	if cn.ClientSecret == "" {
		v.add(cp+".clientSecret", "is required; copy the client secret issued by the upstream provider, e.g. clientSecret: ${%s_SECRET}", strings.ToUpper(strings.ReplaceAll(cn.ID, "-", "_")))
	}
	for k, sc := range cn.Scopes {
		if sc == "" || strings.ContainsAny(sc, " \t\r\n\"\\") {
			v.add(fmt.Sprintf("%s.scopes[%d]", cp, k), "%q is not a scope; write one scope per list item, e.g. [openid, email, profile]", sc)
		}
	}
	if len(cn.Scopes) > 0 && !slices.Contains(cn.Scopes, "openid") {
		v.add(cp+".scopes", "lacks openid; an upstream answers with an ID token only for it, e.g. [openid, email, profile]")
	}
}

func exampleDomain(typ string) string {
	switch typ {
	case "google":
		return "gmail.com"
	case "microsoft":
		return "outlook.com"
	}
	return "contoso.example"
}

func (v *validator) issuer(key, s string) {
	if s == "" {
		v.add(key, "is required; write the upstream issuer URL, e.g. https://idp.contoso.example")
		return
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		v.add(key, "%q is not an absolute https URL; write the issuer exactly as its discovery document states it", s)
		return
	}
	if u.Scheme == "http" && !canon.LoopbackHost(u.Hostname()) {
		v.add(key, "%q uses http; use https (http is only allowed for localhost)", s)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		v.add(key, "%q has a user name, query or fragment; an issuer has none of these", s)
	}
}

func (v *validator) directory(cn *Connector, cp string) {
	if cn.Issuer != "" || cn.ClientID != "" || cn.ClientSecret != "" || len(cn.Scopes) > 0 {
		v.add(cp, "issuer, clientID, clientSecret and scopes do not apply to a directory connector; remove them")
	}
	if len(cn.Users) == 0 {
		v.add(cp+".users", "is empty; list the organisation's accounts (email, name, passwordHash)")
	}
	domains := map[string]bool{}
	for _, d := range cn.Domains {
		if cd, ok := canonicalDomain(d); ok {
			domains[cd] = true
		}
	}
	emails := map[string]string{} // canonical address -> key of its first listing
	for k, u := range cn.Users {
		up := fmt.Sprintf("%s.users[%d]", cp, k)
		v.directoryEmail(up+".email", u.Email, cn.Domains, domains, emails)
		if hasControl(u.Name) {
			v.add(up+".name", "contains a control character; write the name on one line")
		}
		v.passwordHash(up+".passwordHash", u.PasswordHash)
	}
}

// directoryEmail checks a directory user's address: a plain address whose
// canonical form (PRODUCT.md B10, as sign-in compares it) is in one of the
// connector's domains and is not listed twice.
func (v *validator) directoryEmail(key, email string, list []string, domains map[string]bool, seen map[string]string) {
	example := "ada@" + firstOr(list, "fabrikam.example")
	if email == "" {
		v.add(key, "is required; write the account's address, e.g. %s", example)
		return
	}
	a, err := canon.Email(email)
	if err != nil {
		v.add(key, "%q is not a plain mail address (%v); write only the address, e.g. %s", email, err, example)
		return
	}
	dom := a.Canonical[strings.LastIndexByte(a.Canonical, '@')+1:]
	if !domains[dom] {
		v.add(key, "%q is outside this connector's domains (%s); add %s to domains or move the user", email, strings.Join(list, ", "), dom)
	}
	if first, dup := seen[a.Canonical]; dup {
		v.add(key, "%q is the same account as %s (addresses compare as %s); remove the duplicate", email, first, a.Canonical)
		return
	}
	seen[a.Canonical] = key
}

// passwordHash checks a directory user's hash with the rules the connector
// verifies by (pkg/passhash): bcrypt or argon2id, costs within bounds.
func (v *validator) passwordHash(key, h string) {
	const howTo = "generate one with `guestpass hash-password` (argon2id; --algo bcrypt for bcrypt)"
	if h == "" {
		v.add(key, "is required; %s", howTo)
		return
	}
	if _, err := passhash.Parse(h); err != nil {
		v.add(key, "%v; store only hashes, never passwords: %s. If the file has a valid hash, a $ may have been read as a variable: write $$ for each $", err, howTo)
	}
}

// canonicalDomain is a configured domain as canonical addresses spell it.
func canonicalDomain(d string) (string, bool) {
	a, err := canon.Email("x@" + d)
	if err != nil {
		return "", false
	}
	return a.Canonical[2:], true
}

func (v *validator) clients(c *Config, t *Tenant, p string) {
	ids := map[string]string{}
	for j := range t.Clients {
		cl := &t.Clients[j]
		cp := fmt.Sprintf("%s.clients[%d]", p, j)
		switch {
		case cl.ID == "":
			v.add(cp+".id", "is required; choose the id the app will send as client_id, e.g. portal")
		case len(cl.ID) > 255 || strings.IndexFunc(cl.ID, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0:
			v.add(cp+".id", "%q must be printable ASCII without spaces, at most 255 bytes; choose e.g. portal", cl.ID)
		case strings.HasPrefix(cl.ID, ImpliedClientPrefix):
			v.add(cp+".id", "%q starts with %q, which is reserved for the clients guestpass implies between tenants (tenant connectors); choose another id", cl.ID, ImpliedClientPrefix)
		default:
			if first, dup := ids[cl.ID]; dup {
				v.add(cp+".id", "%q is already used by %s; client ids must be unique in a tenant", cl.ID, first)
			}
			ids[cl.ID] = cp
		}
		if hasControl(cl.Name) {
			v.add(cp+".name", "contains a control character; write the name on one line")
		}
		if cl.Admin && cl.Secret == "" {
			v.add(cp+".secret", "is required for an admin client (admin: true), which authenticates with client credentials; set a long random secret")
		}
		if len(cl.RedirectURIs) == 0 && !cl.Admin {
			v.add(cp+".redirectURIs", "is empty; list the app's callback URL, e.g. [\"https://app.example/callback\"]")
		}
		v.redirects(cp+".redirectURIs", cl.RedirectURIs)
		v.redirects(cp+".postLogoutRedirectURIs", cl.PostLogoutRedirectURIs)
		if cl.HomeURL != "" {
			u, err := url.Parse(cl.HomeURL)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
				v.add(cp+".homeURL", "%q is not an absolute http(s) URL without a user name; use e.g. https://app.example/", cl.HomeURL)
			}
		}
		for k, o := range cl.AllowedOrigins {
			v.origin(fmt.Sprintf("%s.allowedOrigins[%d]", cp, k), o)
		}
		if cl.IDTokenSigningAlg != "" {
			v.oneOf(cp+".idTokenSigningAlg", cl.IDTokenSigningAlg, "ES256", "RS256")
		}
	}
}

// redirects applies PRODUCT.md B10 to redirect URIs: absolute, https (http
// only on loopback), no fragment, no user info (https://trusted@evil).
func (v *validator) redirects(key string, uris []string) {
	seen := map[string]bool{}
	for i, s := range uris {
		k := fmt.Sprintf("%s[%d]", key, i)
		u, err := url.Parse(s)
		switch {
		case s == "":
			v.add(k, "is empty; write the full URL, e.g. https://app.example/callback")
		case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
			v.add(k, "%q is not an absolute URL; use the full URL, e.g. https://app.example/callback", s)
		case u.Scheme != "https" && u.Scheme != "http":
			v.add(k, "%q uses scheme %q; use https (or http for localhost)", s, u.Scheme)
		case u.User != nil:
			v.add(k, "%q contains a user name before @, which makes it point somewhere else than it seems; remove it", s)
		case u.Fragment != "" || strings.Contains(s, "#"):
			v.add(k, "%q has a fragment; remove everything from #", s)
		case u.Scheme == "http" && !canon.LoopbackHost(u.Hostname()):
			v.add(k, "%q uses http on a non-loopback host; use https (http only for localhost, 127.0.0.1, ::1)", s)
		case seen[s]:
			v.add(k, "%q is listed twice; remove the duplicate", s)
		}
		seen[s] = true
	}
}

// origin checks a CORS origin: exactly scheme://host[:port], lowercase, as
// browsers send it in the Origin header (matching is exact).
func (v *validator) origin(key, s string) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		u.User != nil || u.Path != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" ||
		u.Scheme+"://"+u.Host != s {
		v.add(key, "%q is not an origin; write exactly scheme://host[:port] with no path or trailing slash, e.g. https://app.example", s)
		return
	}
	if l := strings.ToLower(s); l != s {
		v.add(key, "%q has upper-case letters; write %q (browsers send origins in lowercase)", s, l)
		return
	}
	if u.Scheme == "http" && !canon.LoopbackHost(u.Hostname()) {
		v.add(key, "%q uses http on a non-loopback host; use https", s)
	}
}

func firstOr(list []string, def string) string {
	if len(list) > 0 {
		return list[0]
	}
	return def
}
