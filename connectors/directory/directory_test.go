package directory_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/guestpass/guestpass/connectors"
	"github.com/guestpass/guestpass/connectors/directory"
	"github.com/guestpass/guestpass/pkg/passhash"
)

// cheap argon2id parameters (within bounds) keep the tests fast.
var cheap = passhash.Argon2Params{Memory: 64, Time: 1, Threads: 1}

func argon(t *testing.T, pw string) string {
	t.Helper()
	h, err := passhash.NewArgon2id(pw, cheap)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func bcryptHash(t *testing.T, pw string) string {
	t.Helper()
	h, err := passhash.NewBcrypt(pw, passhash.MinBcryptCost)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// counter is an injected verifier that counts verifications and the hash
// kinds and costs they ran with, then does the real check.
type counter struct{ calls []string }

func (c *counter) verify(h passhash.Hash, pw string) bool {
	c.calls = append(c.calls, h.Params())
	return h.Verify(pw)
}

func open(t *testing.T, users []directory.User, verify func(passhash.Hash, string) bool) *directory.Connector {
	t.Helper()
	k, err := connectors.NewRegistry().Register(directory.Type, directory.New).Open(connectors.Spec{
		Tenant: "fabrikam", Type: directory.Type, ID: "staff", Name: "Fabrikam accounts",
		Domains: []string{"Fabrikam.Example", "bücher.example"},
		Options: directory.Options{Users: users, Verify: verify},
	}, connectors.Env{})
	if err != nil {
		t.Fatal(err)
	}
	return k.(*directory.Connector)
}

func TestLogin(t *testing.T) {
	c := &counter{}
	k := open(t, []directory.User{
		{Email: "Ada@fabrikam.example", Name: "Ada Lovelace", PasswordHash: argon(t, "analytical engine")},
		{Email: "grace@FABRIKAM.example", Name: "Grace Hopper", PasswordHash: bcryptHash(t, "cobol")},
		{Email: "kurt@bücher.example", Name: "Kurt", PasswordHash: argon(t, "gödel")},
	}, c.verify)
	if k.Source() != "directory:staff" || k.ID() != "staff" || k.Name() != "Fabrikam accounts" {
		t.Fatalf("source %q id %q name %q", k.Source(), k.ID(), k.Name())
	}
	for _, tc := range []struct {
		canonical, password string
		ok                  bool
		name                string
	}{
		{"ada@fabrikam.example", "analytical engine", true, "Ada Lovelace"},
		{"ada@fabrikam.example", "Analytical engine", false, ""},
		{"grace@fabrikam.example", "cobol", true, "Grace Hopper"},
		{"grace@fabrikam.example", "fortran", false, ""},
		{"kurt@xn--bcher-kva.example", "gödel", true, "Kurt"},
		{"nobody@fabrikam.example", "analytical engine", false, ""},
	} {
		id, ok, err := k.Login(context.Background(), tc.canonical, tc.password)
		if err != nil || ok != tc.ok {
			t.Errorf("%s/%s: ok %v err %v", tc.canonical, tc.password, ok, err)
			continue
		}
		if !ok {
			if id != (connectors.Identity{}) {
				t.Errorf("%s: a failed login returned an identity %+v", tc.canonical, id)
			}
			continue
		}
		want := connectors.Identity{UserID: "directory:staff:" + tc.canonical, Email: tc.canonical, EmailVerified: true, Name: tc.name}
		if id != want {
			t.Errorf("identity %+v, want %+v", id, want)
		}
	}
	// Every login, the unknown user's too, ran exactly one verification.
	if len(c.calls) != 6 {
		t.Fatalf("verifications %v", c.calls)
	}
}

// TestUnknownUserVerifiesDummy: the failure path for an address no user has
// runs one verification of the same kind and cost as a known user's (the
// equal-time path by construction), and the dummy matches nothing.
func TestUnknownUserVerifiesDummy(t *testing.T) {
	for _, kind := range []string{"argon2id", "bcrypt"} {
		t.Run(kind, func(t *testing.T) {
			hash := argon(t, "pw")
			if kind == "bcrypt" {
				hash = bcryptHash(t, "pw")
			}
			want, _ := passhash.Parse(hash)
			c := &counter{}
			k := open(t, []directory.User{{Email: "ada@fabrikam.example", Name: "Ada", PasswordHash: hash}}, c.verify)
			// The password of the only user, tried for an unknown one.
			for _, pw := range []string{"pw", "", "wrong"} {
				if _, ok, err := k.Login(context.Background(), "nobody@fabrikam.example", pw); ok || err != nil {
					t.Fatalf("unknown user signed in with %q: %v %v", pw, ok, err)
				}
			}
			if len(c.calls) != 3 {
				t.Fatalf("unknown users ran %d verifications, want 3", len(c.calls))
			}
			for _, p := range c.calls {
				if p != want.Params() {
					t.Fatalf("dummy verified at %q, a known user at %q", p, want.Params())
				}
			}
		})
	}
}

// TestDummyFollowsMostUsers: with users of several costs, unknown users cost
// what most users cost.
func TestDummyFollowsMostUsers(t *testing.T) {
	c := &counter{}
	k := open(t, []directory.User{
		{Email: "a@fabrikam.example", PasswordHash: bcryptHash(t, "x")},
		{Email: "b@fabrikam.example", PasswordHash: argon(t, "x")},
		{Email: "c@fabrikam.example", PasswordHash: argon(t, "y")},
	}, c.verify)
	_, _, _ = k.Login(context.Background(), "nobody@fabrikam.example", "x")
	if len(c.calls) != 1 || !strings.HasPrefix(c.calls[0], "argon2id") {
		t.Fatalf("dummy %v", c.calls)
	}
}

func TestClaims(t *testing.T) {
	k := open(t, []directory.User{{Email: "ada@fabrikam.example", PasswordHash: argon(t, "x")}}, nil)
	for addr, want := range map[string]bool{
		"ada@fabrikam.example":        true,
		"nobody@fabrikam.example":     true, // unknown users of the domain get the password page too
		"kurt@xn--bcher-kva.example":  true,
		"ada@sub.fabrikam.example":    false,
		"ada@fabrikam.example.evil":   false,
		"ada@contoso.example":         false,
		"fabrikam.example@contoso.ex": false,
	} {
		if k.Claims(addr) != want {
			t.Errorf("Claims(%s) = %v", addr, !want)
		}
	}
}

func TestNewRefuses(t *testing.T) {
	good := argon(t, "x")
	for name, tc := range map[string]struct {
		users []directory.User
		want  string
	}{
		"no users":       {nil, "no users"},
		"bad hash":       {[]directory.User{{Email: "a@fabrikam.example", PasswordHash: "secret"}}, "users[0]: passwordHash"},
		"outside domain": {[]directory.User{{Email: "a@contoso.example", PasswordHash: good}}, "users[0]: email is outside"},
		"bad email":      {[]directory.User{{Email: "a", PasswordHash: good}}, "users[0]: email"},
		"duplicate": {[]directory.User{
			{Email: "a@fabrikam.example", PasswordHash: good},
			{Email: "A@Fabrikam.Example", PasswordHash: good},
		}, "users[1]: email is listed twice"},
	} {
		_, err := directory.New(connectors.Spec{ID: "staff", Domains: []string{"fabrikam.example"},
			Options: directory.Options{Users: tc.users}}, connectors.Env{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
	if _, err := directory.New(connectors.Spec{ID: "staff"}, connectors.Env{}); err == nil {
		t.Error("missing options accepted")
	}
}

// TestConcurrencyBounded: with every slot taken, a check waits; when its
// context ends first, the answer is ErrUnreachable (a busy directory),
// not a wrong password, and no verification ran for it.
func TestConcurrencyBounded(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	k, err := directory.New(connectors.Spec{ID: "staff", Domains: []string{"fabrikam.example"}, Options: directory.Options{
		Users: []directory.User{{Email: "ada@fabrikam.example", PasswordHash: argon(t, "x")}},
		Verify: func(h passhash.Hash, pw string) bool {
			if calls.Add(1) == 1 {
				close(started)
				<-release
			}
			return h.Verify(pw)
		},
		MaxConcurrent: 1,
	}}, connectors.Env{})
	if err != nil {
		t.Fatal(err)
	}
	pc := k.(connectors.PasswordConnector)
	done := make(chan bool)
	go func() {
		_, ok, _ := pc.Login(context.Background(), "ada@fabrikam.example", "x")
		done <- ok
	}()
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, ok, err := pc.Login(ctx, "nobody@fabrikam.example", "x"); ok || !errors.Is(err, connectors.ErrUnreachable) {
		t.Fatalf("busy directory: ok %v err %v", ok, err)
	}
	close(release)
	if !<-done {
		t.Fatal("the first check failed")
	}
	if calls.Load() != 1 {
		t.Fatalf("%d verifications ran, want 1", calls.Load())
	}
	// A free slot again: checks run.
	if _, ok, err := pc.Login(context.Background(), "ada@fabrikam.example", "x"); !ok || err != nil {
		t.Fatalf("after release: %v %v", ok, err)
	}
}
