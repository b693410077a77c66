//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/guestpass/guestpass/pkg/passhash"
)

// openPTY opens a pseudo-terminal pair: what the test writes to the
// master, the command reads from the terminal (its slave side).
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { _ = master.Close() })
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = slave.Close() })
	return master, slave
}

// On a terminal the password is asked twice, without echo, prompts on
// stderr; two different answers print nothing.
func TestHashPasswordFromTerminal(t *testing.T) {
	for _, tc := range []struct {
		typed string
		code  int
	}{
		{"s3cret pass\ns3cret pass\n", 0},
		{"s3cret pass\nsecret pass\n", 1},
	} {
		master, slave := openPTY(t)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		cmd := exec.CommandContext(ctx, os.Args[0], "hash-password", "--algo", "bcrypt")
		cmd.Env = append(os.Environ(), guestpassMain+"=1")
		var out, errb bytes.Buffer
		cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, &out, &errb
		if _, err := master.WriteString(tc.typed); err != nil {
			t.Fatal(err)
		}
		err := cmd.Run()
		cancel()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tc.code || !strings.Contains(errb.String(), "Password: ") || !strings.Contains(errb.String(), "Again: ") {
			t.Fatalf("exit %d (want %d), stderr %q", code, tc.code, errb.String())
		}
		if tc.code != 0 {
			if out.Len() != 0 || !strings.Contains(errb.String(), "differ") {
				t.Fatalf("mismatch printed %q, stderr %q", out.String(), errb.String())
			}
			continue
		}
		h, err := passhash.Parse(strings.TrimSuffix(out.String(), "\n"))
		if err != nil || !h.Verify("s3cret pass") {
			t.Fatalf("printed %q: %v", out.String(), err)
		}
	}
}
