package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/guestpass/guestpass/pkg/passhash"
)

// directoryConfig is base with the directory connector's users replaced.
func directoryConfig(t *testing.T, users string) string {
	t.Helper()
	return mustEdit(t, `users: [{email: ada@fabrikam.example, name: Ada, passwordHash: "${HASH}"}]`, "users: "+users)
}

// A hash written into the file as is (not through a variable) is copied
// verbatim: "$argon2id", "$v" and "$m" are not variables. Addresses are
// matched canonically, so an upper-case spelling is accepted as written.
func TestDirectoryUsersAccepted(t *testing.T) {
	argon, err := passhash.NewArgon2id("pw", passhash.Argon2Params{Memory: 64, Time: 1, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	text := directoryConfig(t, `[{email: Ada@FABRIKAM.example, name: Ada, passwordHash: "`+argon+`"},
        {email: grace@fabrikam.example, passwordHash: '${HASH}'}]`)
	cfg, err := Parse([]byte(text), "test.yaml", lookup(testEnv(t)))
	if err != nil {
		t.Fatal(err)
	}
	users := cfg.Tenant("fabrikam").Connectors[0].Users
	if users[0].PasswordHash != argon || users[0].Email != "Ada@FABRIKAM.example" {
		t.Fatalf("users %+v", users)
	}
}

func TestDirectoryUsersRefused(t *testing.T) {
	const key = "tenants[0].connectors[0].users[%d]"
	salt, sum := "c2FsdHNhbHRzYWx0c2FsdA", "q83vEjRWeJASNFZ4kBI0VniQEjRWeJASNFZ4kBI0Vng"
	for _, tc := range []struct {
		name, users, key, fragment string
	}{
		{"argon2 memory", `[{email: a@fabrikam.example, passwordHash: "$argon2id$v=19$m=4194304,t=1,p=1$` + salt + `$` + sum + `"}]`,
			"0].passwordHash", "m=4194304 KiB is outside 8..262144"},
		{"argon2 time", `[{email: a@fabrikam.example, passwordHash: "$argon2id$v=19$m=65536,t=99,p=1$` + salt + `$` + sum + `"}]`,
			"0].passwordHash", "t=99 is outside 1..10"},
		{"argon2 lanes", `[{email: a@fabrikam.example, passwordHash: "$argon2id$v=19$m=65536,t=1,p=64$` + salt + `$` + sum + `"}]`,
			"0].passwordHash", "p=64 is outside 1..16"},
		{"argon2i", `[{email: a@fabrikam.example, passwordHash: "$argon2i$v=19$m=65536,t=1,p=1$` + salt + `$` + sum + `"}]`,
			"0].passwordHash", "only argon2id is accepted"},
		{"bcrypt cheap", `[{email: a@fabrikam.example, passwordHash: "$2a$04$bPiZJxP.DzfVDuRIwM8Z.uEJG.lmAhUk4VdBnQmvRNxd/fMvcsU5q"}]`,
			"0].passwordHash", "bcrypt cost 4 is outside 10..15"},
		{"bcrypt costly", `[{email: a@fabrikam.example, passwordHash: "$2a$20$bPiZJxP.DzfVDuRIwM8Z.uEJG.lmAhUk4VdBnQmvRNxd/fMvcsU5q"}]`,
			"0].passwordHash", "bcrypt cost 20 is outside 10..15"},
		{"missing hash", `[{email: a@fabrikam.example}]`, "0].passwordHash", "is required; generate one with `guestpass hash-password`"},
		{"duplicate by case", `[{email: ada@fabrikam.example, passwordHash: '${HASH}'}, {email: ADA@Fabrikam.Example, passwordHash: '${HASH}'}]`,
			"1].email", `"ADA@Fabrikam.Example" is the same account as tenants[0].connectors[0].users[0].email (addresses compare as ada@fabrikam.example)`},
		{"outside domains", `[{email: ada@fabrikam.example.evil, passwordHash: '${HASH}'}]`,
			"0].email", "outside this connector's domains (fabrikam.example); add fabrikam.example.evil"},
		{"not an address", `[{email: "ada", passwordHash: '${HASH}'}]`, "0].email", "not a plain mail address"},
		{"missing email", `[{passwordHash: '${HASH}'}]`, "0].email", "is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(directoryConfig(t, tc.users)), "test.yaml", lookup(testEnv(t)))
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("got %v", err)
			}
			want := strings.Replace(key, "%d]", "", 1) + tc.key
			for _, p := range ce.Problems {
				if p.Key == want && strings.Contains(p.Message, tc.fragment) {
					return
				}
			}
			t.Fatalf("want %s with %q; got:\n%v", want, tc.fragment, err)
		})
	}
}
