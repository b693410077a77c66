// Package ldaptest gives tests a real directory: a private OpenLDAP slapd
// (Debian packages slapd and ldap-utils) on free 127.0.0.1 ports in a temp
// dir, loaded with a service account and the users a test asks for, that a
// test may kill (an outage) and start again. With TLS it also serves LDAPS
// and StartTLS with a certificate from a CA generated for the test.
package ldaptest

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/guestpass/guestpass/pkg/proctest"
)

// Where Debian's slapd package puts things.
const (
	slapdPath   = "/usr/sbin/slapd"
	slapaddPath = "/usr/sbin/slapadd"
	schemaDir   = "/etc/ldap/schema"
	modulePath  = "/usr/lib/ldap"
)

// The directory's fixed names.
const (
	// BaseDN is the suffix of the directory.
	BaseDN = "dc=example,dc=org"
	// PeopleDN is where users live (the connector's userSearch.baseDN).
	PeopleDN = "ou=people," + BaseDN
	// BindDN and BindPW are the service account the connector searches
	// with; anonymous clients may only bind, not search.
	BindDN = "cn=guestpass,ou=services," + BaseDN
	BindPW = "service-secret"
)

// startTimeout bounds the wait for a fresh slapd to accept connections;
// generous because a loaded 2-core box can be slow.
const startTimeout = 20 * time.Second

// User is an entry under PeopleDN: uid=UID, objectClass inetOrgPerson.
type User struct {
	UID      string
	Name     string // cn; sn is derived
	Mail     []string
	Password string // stored as {SSHA}
}

// Options say what the directory holds and how it is served.
type Options struct {
	Users []User
	// TLS adds an LDAPS listener and StartTLS on the plain one, with a
	// server certificate for 127.0.0.1 and localhost signed by a CA made
	// for this server (CAPEM).
	TLS bool
}

// Server is a running private slapd.
type Server struct {
	// Addr is the plain LDAP listener (host:port); StartTLS works on it
	// when Options.TLS was set.
	Addr string
	// LDAPSAddr is the LDAPS listener; empty without Options.TLS.
	LDAPSAddr string
	// CAPEM and CAFile are the CA that signed the server certificate.
	CAPEM  []byte
	CAFile string

	tb   testing.TB
	dir  string
	conf string

	proc proctest.Current // the running server
}

// Start returns a private slapd holding opts.Users, stopped in t.Cleanup.
// It skips the test when slapd is not installed.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	for _, p := range []string{slapdPath, slapaddPath} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("ldaptest: %s not found: install the Debian packages slapd and ldap-utils (.ci/run does)", p)
		}
	}
	s := &Server{tb: t, dir: t.TempDir()}
	if err := s.setup(opts); err != nil {
		t.Fatalf("ldaptest: %v", err)
	}
	if err := s.launch(); err != nil {
		t.Fatalf("ldaptest: %v", err)
	}
	t.Cleanup(s.kill)
	return s
}

// setup writes the config, the TLS files and the database.
func (s *Server) setup(opts Options) error {
	if err := os.Mkdir(filepath.Join(s.dir, "db"), 0o700); err != nil {
		return err
	}
	var tlsConf string
	if opts.TLS {
		pki, err := newPKI(s.dir)
		if err != nil {
			return fmt.Errorf("certificates: %w", err)
		}
		s.CAPEM, s.CAFile = pki.caPEM, pki.caFile
		tlsConf = fmt.Sprintf("TLSCACertificateFile %s\nTLSCertificateFile %s\nTLSCertificateKeyFile %s\n",
			pki.caFile, pki.certFile, pki.keyFile)
	}
	s.conf = filepath.Join(s.dir, "slapd.conf")
	if err := os.WriteFile(s.conf, []byte(slapdConf(s.dir, tlsConf)), 0o600); err != nil {
		return err
	}
	ldif, err := entries(opts.Users)
	if err != nil {
		return err
	}
	ldifPath := filepath.Join(s.dir, "data.ldif")
	if err := os.WriteFile(ldifPath, ldif, 0o600); err != nil {
		return err
	}
	// slapadd loads the database offline: no server round trips, and it
	// adds the operational attributes (entryUUID) a live add would.
	out, err := exec.Command(slapaddPath, "-f", s.conf, "-l", ldifPath).CombinedOutput()
	if err != nil {
		return fmt.Errorf("slapadd: %w\n%s", err, out)
	}
	return nil
}

func slapdConf(dir, tlsConf string) string {
	return fmt.Sprintf(`include %[2]s/core.schema
include %[2]s/cosine.schema
include %[2]s/inetorgperson.schema
modulepath %[3]s
moduleload back_mdb
pidfile %[1]s/slapd.pid
argsfile %[1]s/slapd.args
%[4]s
database mdb
maxsize 16777216
suffix "%[5]s"
directory %[1]s/db
# Passwords are only ever compared by a bind; only a bound client (the
# service account, or a user) may search, as in a real directory.
access to attrs=userPassword by anonymous auth by * none
access to * by users read by anonymous auth by * none
`, dir, schemaDir, modulePath, tlsConf, BaseDN)
}

// entries is the LDIF of the base, the service account and the users.
func entries(users []User) ([]byte, error) {
	var b bytes.Buffer
	svcPW, err := SSHA(BindPW)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(&b, "dn: %s\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n\n", BaseDN)
	fmt.Fprintf(&b, "dn: ou=people,%s\nobjectClass: organizationalUnit\nou: people\n\n", BaseDN)
	fmt.Fprintf(&b, "dn: ou=services,%s\nobjectClass: organizationalUnit\nou: services\n\n", BaseDN)
	fmt.Fprintf(&b, "dn: %s\nobjectClass: person\ncn: guestpass\nsn: service\nuserPassword: %s\n\n", BindDN, svcPW)
	for _, u := range users {
		fmt.Fprintf(&b, "dn: uid=%s,%s\nobjectClass: inetOrgPerson\nuid: %s\n%s%s",
			u.UID, PeopleDN, u.UID, ldifAttr("cn", u.Name), ldifAttr("sn", lastWord(u.Name)))
		for _, m := range u.Mail {
			b.WriteString(ldifAttr("mail", m))
		}
		if u.Password != "" {
			pw, err := SSHA(u.Password)
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(&b, "userPassword: %s\n", pw)
		}
		b.WriteString("\n")
	}
	return b.Bytes(), nil
}

// ldifAttr is one "attr: value" line, base64-encoded ("attr:: ...") when
// LDIF would not take the value as is (a leading space, colon or '<',
// non-ASCII).
func ldifAttr(attr, v string) string {
	safe := v != "" && !strings.ContainsAny(v[:1], " :<")
	for i := 0; i < len(v) && safe; i++ {
		safe = v[i] >= 0x20 && v[i] < 0x7f
	}
	if safe {
		return attr + ": " + v + "\n"
	}
	return attr + ":: " + base64.StdEncoding.EncodeToString([]byte(v)) + "\n"
}

func lastWord(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return "user"
	}
	return f[len(f)-1]
}

// SSHA is OpenLDAP's salted SHA-1 password scheme, {SSHA}base64(sha1(pw
// salt) salt): what slappasswd prints, computed here to spare a process.
func SSHA(password string) (string, error) {
	salt := make([]byte, 8)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	h := sha1.Sum(append([]byte(password), salt...))
	return "{SSHA}" + base64.StdEncoding.EncodeToString(append(h[:], salt...)), nil
}

// launch picks free ports and starts slapd on them, retrying with fresh
// ports if one was taken in between.
func (s *Server) launch() error {
	var lastErr error
	for range 5 {
		ports, err := proctest.FreePorts(2)
		if err != nil {
			return err
		}
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
		if s.CAPEM != nil {
			s.LDAPSAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1]))
		}
		if lastErr = s.run(); lastErr == nil {
			return nil
		}
	}
	return lastErr
}

// run starts slapd in the foreground (-d keeps it attached, so killing the
// process is the outage) and waits until its listeners accept.
func (s *Server) run() error {
	urls := "ldap://" + s.Addr + "/"
	if s.LDAPSAddr != "" {
		urls += " ldaps://" + s.LDAPSAddr + "/"
	}
	logPath := filepath.Join(s.dir, "slapd.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(slapdPath, "-d", "0", "-f", s.conf, "-h", urls)
	cmd.Stdout, cmd.Stderr = logf, logf
	proc, err := proctest.Start(cmd)
	if err != nil {
		return fmt.Errorf("start slapd: %w", err)
	}
	for _, a := range []string{s.Addr, s.LDAPSAddr} {
		if a == "" {
			continue
		}
		if err := waitListen(a, proc.Exited()); err != nil {
			proc.Kill()
			logText, _ := os.ReadFile(logPath)
			return fmt.Errorf("slapd on %s: %w; log:\n%s", a, err, logText)
		}
	}
	s.proc.Set(proc)
	return nil
}

func waitListen(addr string, exited <-chan struct{}) error {
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("slapd exited")
		default:
		}
		c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("not listening after %v", startTimeout)
}

// Stop kills slapd (SIGKILL: an outage, not a clean shutdown) and waits
// until it has exited; its ports then refuse connections.
func (s *Server) Stop() { s.kill() }

// Restart starts slapd again on the same ports with the same data.
func (s *Server) Restart() {
	s.kill()
	var err error
	// The ports were ours a moment ago; retry briefly in case the kernel
	// has not let go yet.
	for range 20 {
		if err = s.run(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.tb.Fatalf("ldaptest: restart: %v", err)
}

func (s *Server) kill() { s.proc.Kill() }
