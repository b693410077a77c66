package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guestpass/guestpass/pkg/passhash"
)

// TestMain lets a test run this package's binary as the real command, with
// a real stdin: the test binary re-executes itself with guestpassMain set.
func TestMain(m *testing.M) {
	if os.Getenv(guestpassMain) == "1" {
		main()
	}
	os.Exit(m.Run())
}

const guestpassMain = "GUESTPASS_TEST_RUN_MAIN"

// command runs `guestpass args...` as a process with stdin, bounded.
func command(t *testing.T, stdin io.Reader, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), guestpassMain+"=1")
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String(), errb.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, out.String(), errb.String()
}

func TestHashPasswordFromStdin(t *testing.T) {
	const pw = "correct horse battery staple"
	for _, tc := range []struct {
		args []string
		kind passhash.Kind
		line string
	}{
		{[]string{"hash-password"}, passhash.Argon2id, pw + "\n"},
		{[]string{"hash-password", "--algo", "argon2id"}, passhash.Argon2id, pw}, // no final newline
		{[]string{"hash-password", "--algo", "bcrypt"}, passhash.Bcrypt, pw + "\r\n"},
	} {
		code, out, errOut := command(t, strings.NewReader(tc.line), tc.args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", tc.args, code, errOut)
		}
		hash, ok := strings.CutSuffix(out, "\n")
		if !ok || strings.Contains(hash, "\n") {
			t.Fatalf("stdout is not one line: %q", out)
		}
		h, err := passhash.Parse(hash)
		if err != nil || h.Kind() != tc.kind {
			t.Fatalf("%v printed %q: %v", tc.args, hash, err)
		}
		if !h.Verify(pw) || h.Verify(pw+"\n") || h.Verify(tc.line+"x") {
			t.Fatalf("%v: the hash is not of the password without its line end", tc.args)
		}
		if strings.Contains(errOut, pw) {
			t.Fatalf("stderr shows the password: %q", errOut)
		}
		if tc.kind == passhash.Argon2id && !strings.HasPrefix(hash, "$argon2id$v=19$m=65536,t=2,p=2$") {
			t.Fatalf("default parameters: %q", hash)
		}
		checkConfigAccepts(t, hash)
	}
}

// checkConfigAccepts runs check-config on a config whose directory user has
// hash, written into the file as is.
func checkConfigAccepts(t *testing.T, hash string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.yaml")
	tenant := "  - id: alpha\n    clients: [{id: app, secret: s, redirectURIs: [\"http://127.0.0.1:9/cb\"]}]\n" +
		"    connectors:\n      - {type: directory, id: staff, domains: [corp.example], users: [{email: a@corp.example, passwordHash: \"" + hash + "\"}]}\n"
	writeRaw(t, path, freePort(t), tenant)
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"check-config", path}, &out, &errb); code != 0 {
		t.Fatalf("check-config refused the printed hash: %s", errb.String())
	}
}

func TestHashPasswordRefuses(t *testing.T) {
	long := strings.Repeat("x", 73)
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"empty", "", nil, 1, "empty password refused"},
		{"empty line", "\n", nil, 1, "empty password refused"},
		{"two lines", "one\ntwo\n", nil, 1, "more than one line"},
		{"password in argv", "", []string{"hunter2"}, 2, "takes no password argument"},
		{"unknown algo", "pw\n", []string{"--algo", "md5"}, 2, `--algo "md5": use argon2id or bcrypt`},
		{"bcrypt too long", long + "\n", []string{"--algo", "bcrypt"}, 1, "first 72 bytes"},
		{"too long", strings.Repeat("x", 2000), nil, 1, "longer than 1024 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := command(t, strings.NewReader(tc.stdin), append([]string{"hash-password"}, tc.args...)...)
			if code != tc.code || out != "" || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d (want %d), stdout %q, stderr %q (want %q)", code, tc.code, out, errOut, tc.want)
			}
			if strings.Contains(errOut, "hunter2") {
				t.Fatal("stderr repeats the argument")
			}
		})
	}
}
