package passhash

import (
	"errors"
	"strings"
	"testing"
)

// cheap are argon2id parameters within bounds that keep the tests fast.
var cheap = Argon2Params{Memory: 64, Time: 1, Threads: 1}

func TestRoundTrip(t *testing.T) {
	a, err := NewArgon2id("correct horse", cheap)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewBcrypt("correct horse", MinBcryptCost)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{a, b, strings.Replace(b, "$2a$", "$2y$", 1), strings.Replace(b, "$2a$", "$2b$", 1)} {
		h, err := Parse(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if !h.Verify("correct horse") || h.Verify("correct horsE") || h.Verify("") {
			t.Errorf("%s: verification", s)
		}
		d := h.Dummy()
		if d.Params() != h.Params() || d.Kind() != h.Kind() {
			t.Errorf("dummy %s differs in cost from %s", d.Params(), h.Params())
		}
		if d.Verify("correct horse") || d.Verify("") {
			t.Errorf("dummy of %s matched", s)
		}
	}
}

func TestDefaultsParse(t *testing.T) {
	// The default parameters must be ones the config accepts (no hashing
	// here: 64 MiB would slow the suite for nothing).
	s := "$argon2id$v=19$m=65536,t=2,p=2$c2FsdHNhbHRzYWx0c2FsdA$" + strings.Repeat("A", 42) + "w"
	if _, err := Parse(s); err != nil {
		t.Fatal(err)
	}
	if DefaultArgon2.Memory != 65536 || DefaultArgon2.Time != 2 || DefaultArgon2.Threads != 2 {
		t.Fatal(DefaultArgon2)
	}
}

func TestParseRefuses(t *testing.T) {
	salt, key := "c2FsdHNhbHRzYWx0c2FsdA", "q83vEjRWeJASNFZ4kBI0VniQEjRWeJASNFZ4kBI0Vng"
	argon := func(params string) string { return "$argon2id$v=19$" + params + "$" + salt + "$" + key }
	good, _ := NewBcrypt("x", MinBcryptCost)
	cases := map[string]struct{ hash, want string }{
		"plain password":   {"hunter2", "not a bcrypt"},
		"md5 crypt":        {"$1$abc$def", "not a bcrypt"},
		"argon2i":          {"$argon2i$v=19$m=65536,t=2,p=2$" + salt + "$" + key, "only argon2id"},
		"bcrypt cost 4":    {strings.Replace(good, "$10$", "$04$", 1), "cost 4 is outside 10..15"},
		"bcrypt cost 31":   {strings.Replace(good, "$10$", "$31$", 1), "cost 31 is outside"},
		"bcrypt truncated": {good[:59], "60 characters"},
		"bcrypt bad char":  {good[:59] + "!", "only ./A-Za-z0-9"},
		"old version":      {"$argon2id$v=16$m=65536,t=2,p=2$" + salt + "$" + key, "v=19"},
		"missing part":     {"$argon2id$v=19$m=65536,t=2,p=2$" + salt, "look like"},
		"memory huge":      {argon("m=4194304,t=1,p=1"), "m=4194304 KiB is outside"},
		"memory tiny":      {argon("m=8,t=1,p=4"), "m=8 KiB is outside 32.."},
		"time huge":        {argon("m=65536,t=1000,p=1"), "t=1000 is outside 1..10"},
		"time zero":        {argon("m=65536,t=0,p=1"), "t=0 is outside"},
		"lanes huge":       {argon("m=65536,t=2,p=255"), "p=255 is outside 1..16"},
		"work":             {argon("m=262144,t=5,p=1"), "exceeds"},
		"order":            {argon("t=2,m=65536,p=2"), "in that order"},
		"leading zero":     {argon("m=065536,t=2,p=2"), "in that order"},
		"sign":             {argon("m=+65536,t=2,p=2"), "in that order"},
		"overflow":         {argon("m=99999999999,t=2,p=2"), "in that order"},
		"extra":            {argon("m=65536,t=2,p=2,k=1"), "must be m="},
		"padded salt":      {"$argon2id$v=19$m=64,t=1,p=1$" + salt + "==$" + key, "salt must be"},
		"short salt":       {"$argon2id$v=19$m=64,t=1,p=1$c2FsdA$" + key, "salt must be"},
		"short key":        {"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$c2FsdA", "hash must be"},
	}
	for name, c := range cases {
		_, err := Parse(c.hash)
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), c.hash) && len(c.hash) > 8 {
			t.Errorf("%s: the error repeats the hash", name)
		}
	}
	if _, err := NewBcrypt("x", 4); err == nil {
		t.Error("NewBcrypt made a hash the config refuses")
	}
	if _, err := NewArgon2id("x", Argon2Params{Memory: 1 << 20, Time: 1, Threads: 1}); err == nil {
		t.Error("NewArgon2id made a hash the config refuses")
	}
}
