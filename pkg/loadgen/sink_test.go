package loadgen

import (
	"context"
	"errors"
	"net/smtp"
	"strings"
	"testing"
	"time"
)

// A mail as guestpass sends it: multipart, quoted-printable text part.
const passcodeMail = "From: guestpass <no-reply@bench.example>\r\n" +
	"To: ada@guest.example\r\n" +
	"Subject: Your sign-in code\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/alternative; boundary=b1\r\n" +
	"\r\n" +
	"--b1\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"Bench =\r\n\r\nYour sign-in code:\r\n\r\n    0123=\r\n4567\r\n\r\nValid for 30 minutes (ref 99999999 below).\r\n" +
	"--b1\r\n" +
	"Content-Type: text/html; charset=utf-8\r\n" +
	"\r\n" +
	"<p>11112222</p>\r\n" +
	"--b1--\r\n"

func TestCodeInMailReadsTheDecodedTextPart(t *testing.T) {
	code, err := CodeInMail([]byte(passcodeMail))
	if err != nil || code != "01234567" {
		t.Fatalf("code %q, %v; want 01234567 (soft line break joined, leading zero kept)", code, err)
	}
	if _, err := CodeInMail([]byte("Subject: x\r\n\r\nno code here, only 1234567\r\n")); err == nil {
		t.Fatal("a 7-digit number was taken for a code")
	}
}

func TestSinkHandsEachCodeToItsRecipientOnce(t *testing.T) {
	s, err := StartSink("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()

	// A browser waiting before the mail arrives gets it.
	got := make(chan string, 1)
	go func() {
		c, err := s.Wait(ctx, "Ada@Guest.Example", 5*time.Second)
		if err != nil {
			t.Error(err)
		}
		got <- c
	}()
	time.Sleep(20 * time.Millisecond)
	send(t, s.Addr, "ada@guest.example", passcodeMail)
	if c := <-got; c != "01234567" {
		t.Fatalf("waiter got %q", c)
	}
	// The code was taken: another wait for the address finds nothing.
	if _, err := s.Wait(ctx, "ada@guest.example", 50*time.Millisecond); !errors.Is(err, ErrLostCode) || Kind(stepErr("mail", err)) != "lost code" {
		t.Fatalf("second wait: %v", err)
	}
	// A mail to someone else is not ada's.
	send(t, s.Addr, "bob@guest.example", passcodeMail)
	if _, err := s.Wait(ctx, "ada@guest.example", 50*time.Millisecond); !errors.Is(err, ErrLostCode) {
		t.Fatalf("ada got bob's mail: %v", err)
	}
	if c, err := s.Wait(ctx, "bob@guest.example", time.Second); err != nil || c != "01234567" {
		t.Fatalf("bob: %q %v", c, err)
	}
	// Of two codes the newest counts (it replaced the first); a discarded
	// one is gone.
	send(t, s.Addr, "bob@guest.example", passcodeMail)
	send(t, s.Addr, "bob@guest.example", strings.Replace(passcodeMail, "0123=\r\n4567", "76543210", 1))
	if c, err := s.Wait(ctx, "bob@guest.example", time.Second); err != nil || c != "76543210" {
		t.Fatalf("bob's newest: %q %v", c, err)
	}
	send(t, s.Addr, "bob@guest.example", passcodeMail)
	s.Discard("Bob@guest.example")
	if _, err := s.Wait(ctx, "bob@guest.example", 50*time.Millisecond); !errors.Is(err, ErrLostCode) {
		t.Fatalf("a discarded code was handed out: %v", err)
	}
	if mails, bad := s.Counts(); mails != 5 || bad != 0 {
		t.Fatalf("counts %d %d", mails, bad)
	}
}

func send(t *testing.T, addr, to, msg string) {
	t.Helper()
	if err := smtp.SendMail(addr, nil, "no-reply@bench.example", []string{to}, []byte(msg)); err != nil {
		t.Fatal(err)
	}
}
