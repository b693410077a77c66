package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"golang.org/x/term"

	"github.com/guestpass/guestpass/pkg/passhash"
)

// maxPasswordLen bounds what hash-password reads: a pasted file is a
// mistake, not a password.
const maxPasswordLen = 1024

// stdinFile is standard input: readable, and a file descriptor to ask
// whether it is a terminal.
type stdinFile interface {
	io.Reader
	Fd() uintptr
}

// hashPassword prints a hash of a password for a directory user's
// passwordHash. The password comes from the terminal without echo (asked
// twice) or, when stdin is not a terminal, from its first line; never from
// argv, where ps and shell history would keep it.
func hashPassword(args []string, stdin stdinFile, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hash-password", flag.ContinueOnError)
	fs.SetOutput(stderr)
	algo := fs.String("algo", "argon2id", "argon2id (m=64MiB,t=2,p=2) or bcrypt (cost 12)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, "guestpass: hash-password takes no password argument (ps and shell history would keep it); type it when asked or pipe it on stdin")
		return 2
	}
	if *algo != "argon2id" && *algo != "bcrypt" {
		fmt.Fprintf(stderr, "guestpass: --algo %q: use argon2id or bcrypt\n", *algo)
		return 2
	}
	pw, err := readPassword(stdin, stderr)
	if err == nil {
		err = checkPassword(pw, *algo)
	}
	if err != nil {
		fmt.Fprintln(stderr, "guestpass:", err)
		return 1
	}
	var h string
	if *algo == "bcrypt" {
		h, err = passhash.NewBcrypt(pw, passhash.DefaultBcryptCost)
	} else {
		h, err = passhash.NewArgon2id(pw, passhash.DefaultArgon2)
	}
	if err != nil {
		fmt.Fprintln(stderr, "guestpass:", err)
		return 1
	}
	fmt.Fprintln(stdout, h)
	return 0
}

func checkPassword(pw, algo string) error {
	switch {
	case pw == "":
		return errors.New("empty password refused")
	case len(pw) > maxPasswordLen:
		return fmt.Errorf("password longer than %d bytes refused", maxPasswordLen)
	case algo == "bcrypt" && len(pw) > 72:
		// bcrypt ignores what follows byte 72; argon2id does not.
		return errors.New("bcrypt uses only the first 72 bytes of a password; use --algo argon2id for a longer one")
	}
	return nil
}

// readPassword asks twice on a terminal (no echo; prompts on stderr so
// stdout holds only the hash), else reads stdin's one line.
func readPassword(stdin stdinFile, stderr io.Writer) (string, error) {
	fd := int(stdin.Fd())
	if !term.IsTerminal(fd) {
		return readLine(stdin)
	}
	fmt.Fprint(stderr, "Password: ")
	first, err := term.ReadPassword(fd)
	fmt.Fprintln(stderr)
	if err != nil {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	fmt.Fprint(stderr, "Again: ")
	second, err := term.ReadPassword(fd)
	fmt.Fprintln(stderr)
	if err != nil {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	if string(first) != string(second) {
		return "", errors.New("the passwords differ; nothing printed")
	}
	return string(first), nil
}

// readLine reads the password from a pipe or file: one line, its line end
// removed. More than one line is refused rather than guessed at.
func readLine(r io.Reader) (string, error) {
	data, err := io.ReadAll(io.LimitReader(bufio.NewReader(r), maxPasswordLen+3))
	if err != nil {
		return "", fmt.Errorf("reading the password from stdin: %w", err)
	}
	s := string(data)
	s = strings.TrimSuffix(s, "\n")
	s = strings.TrimSuffix(s, "\r")
	if strings.ContainsAny(s, "\r\n") {
		return "", errors.New("stdin holds more than one line; pipe only the password")
	}
	return s, nil
}
