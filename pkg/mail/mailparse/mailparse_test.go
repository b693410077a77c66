package mailparse

import "testing"

// A mail as guestpass sends it: encoded subject, quoted-printable text
// part (a soft line break inside the code), html part.
const sent = "Subject: =?utf-8?q?Votre_code?=\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/alternative; boundary=b1\r\n" +
	"\r\n" +
	"--b1\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"Code: 0123=\r\n4567 (ref 1234567)\r\n" +
	"--b1\r\n" +
	"Content-Type: text/html; charset=utf-8\r\n" +
	"\r\n" +
	"<p>11112222</p>\r\n" +
	"--b1--\r\n"

func TestParseDecodesSubjectAndParts(t *testing.T) {
	m, err := Parse([]byte(sent))
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "Votre code" || m.Text != "Code: 01234567 (ref 1234567)" || m.HTML != "<p>11112222</p>" {
		t.Fatalf("subject %q text %q html %q", m.Subject, m.Text, m.HTML)
	}
	if c := Code(m.Text); c != "01234567" {
		t.Fatalf("code %q, want 01234567", c)
	}
	if c := Code("only 1234567 and 123456789"); c != "" {
		t.Fatalf("%q taken for a code: a code has exactly 8 digits", c)
	}
}

func TestParseRefusesBase64(t *testing.T) {
	raw := "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\nMDEyMzQ1Njc=\r\n"
	if _, err := Parse([]byte(raw)); err == nil {
		t.Fatal("a base64 body was read as is")
	}
}
