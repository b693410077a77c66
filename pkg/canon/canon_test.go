package canon

import (
	"errors"
	"strings"
	"testing"
)

func TestEmail(t *testing.T) {
	long := strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 54) + ".example"
	if len(long) != 255 {
		t.Fatalf("fixture is %d bytes, want 255", len(long))
	}
	max := strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 53) + ".example"
	if len(max) != 254 {
		t.Fatalf("fixture is %d bytes, want 254", len(max))
	}

	tests := []struct {
		name, in        string
		canonical, disp string
		reason          string // substring of the refusal; empty = accepted
	}{
		{name: "plain", in: "ada@example.com", canonical: "ada@example.com", disp: "ada@example.com"},
		{name: "upper case", in: "User@GMAIL.COM", canonical: "user@gmail.com", disp: "User@gmail.com"},
		{name: "googlemail kept distinct", in: "User@GoogleMail.com", canonical: "user@googlemail.com", disp: "User@googlemail.com"},
		{name: "surrounding whitespace", in: " \t ada@example.com \n", canonical: "ada@example.com", disp: "ada@example.com"},
		{name: "trailing dot", in: "ada@Example.COM.", canonical: "ada@example.com", disp: "ada@example.com"},
		{name: "two trailing dots", in: "ada@example.com..", reason: "not a valid domain"},
		{name: "idna", in: "Ada@Bücher.example", canonical: "ada@xn--bcher-kva.example", disp: "Ada@xn--bcher-kva.example"},
		{name: "idna upper unicode", in: "ada@BÜCHER.example", canonical: "ada@xn--bcher-kva.example", disp: "ada@xn--bcher-kva.example"},
		{name: "punycode typed", in: "ada@XN--BCHER-KVA.example", canonical: "ada@xn--bcher-kva.example", disp: "ada@xn--bcher-kva.example"},
		{name: "bad punycode", in: "ada@xn--zz-.example", reason: "not a valid domain"},
		{name: "atext specials", in: "o'neil+tag{x}@example.com", canonical: "o'neil+tag{x}@example.com", disp: "o'neil+tag{x}@example.com"},
		{name: "dots inside", in: "a.b.c@example.com", canonical: "a.b.c@example.com", disp: "a.b.c@example.com"},
		{name: "254 bytes", in: max, canonical: max, disp: max},
		{name: "255 bytes", in: long, reason: "too long"},
		{name: "huge", in: strings.Repeat("a", 100000) + "@example.com", reason: "too long"},
		{name: "local 65", in: strings.Repeat("a", 65) + "@example.com", reason: "too long"},
		{name: "label 64", in: "a@" + strings.Repeat("b", 64) + ".example", reason: "not a valid domain"},
		{name: "empty", in: "   ", reason: "Enter an email address"},
		{name: "no at", in: "ada.example.com", reason: "needs an @"},
		{name: "two ats", in: "ada@b@example.com", reason: "exactly one @"},
		{name: "full-width at", in: "ada＠example.com", reason: "full-width"},
		{name: "small at", in: "ada﹫example.com", reason: "full-width"},
		{name: "kelvin sign", in: "\u212Aelvin@example.com", reason: "Kelvin sign"},
		{name: "non-ascii local", in: "jürgen@example.com", reason: "ASCII"},
		{name: "crlf injection", in: "a@b.example\r\nBcc: x@y", reason: "line break"},
		{name: "lf", in: "a@b.exa\nmple", reason: "line break"},
		{name: "cr", in: "a\r@b.example", reason: "line break"},
		{name: "nul", in: "a\x00@b.example", reason: "control"},
		{name: "del", in: "a\x7f@b.example", reason: "control"},
		{name: "c1 control", in: "a\u0085@b.example", reason: "control"},
		{name: "invalid utf8", in: "a\xff@b.example", reason: "not valid text"},
		{name: "display name", in: "Ada <ada@example.com>", reason: "without a name"},
		{name: "angle only", in: "<ada@example.com>", reason: "angle brackets"},
		{name: "quoted display name", in: `"Ada" <ada@example.com>`, reason: "angle brackets"},
		{name: "comment", in: "ada@example.com (Ada)", reason: "not a valid domain"},
		{name: "comment in local", in: "ada(x)@example.com", reason: "may only contain"},
		{name: "quoted local", in: `"ada"@example.com`, reason: "Quoted"},
		{name: "quoted at", in: `"a@b"@example.com`, reason: "exactly one @"},
		{name: "space inside", in: "a da@example.com", reason: "spaces"},
		{name: "leading dot", in: ".ada@example.com", reason: "dot"},
		{name: "trailing dot local", in: "ada.@example.com", reason: "dot"},
		{name: "double dot", in: "a..da@example.com", reason: "dot"},
		{name: "no local", in: "@example.com", reason: "name before the @"},
		{name: "no domain", in: "ada@", reason: "needs a domain"},
		{name: "dotless domain", in: "ada@localhost", reason: "must contain a dot"},
		{name: "dotless after strip", in: "ada@localhost.", reason: "must contain a dot"},
		{name: "ip literal", in: "ada@[127.0.0.1]", reason: "IP address"},
		{name: "numeric tld", in: "ada@127.0.0.1", reason: "not a number"},
		{name: "underscore domain", in: "ada@b_c.example", reason: "not a valid domain"},
		{name: "hyphen label", in: "ada@-b.example", reason: "not a valid domain"},
		{name: "empty label", in: "ada@b..example", reason: "not a valid domain"},
		{name: "space in domain", in: "ada@exa mple.com", reason: "not a valid domain"},
		{name: "zero width in domain", in: "ada@exa\u200bmple.com", reason: "invisible"},
		{name: "soft hyphen in domain", in: "ada@exa\u00admple.com", reason: "invisible"},
		{name: "full-width domain", in: "ada@ＥＸＡＭＰＬＥ.com", canonical: "ada@example.com", disp: "ada@example.com"},
		{name: "sharp s kept", in: "ada@straße.example", canonical: "ada@xn--strae-oqa.example", disp: "ada@xn--strae-oqa.example"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Email(tc.in)
			if tc.reason != "" {
				if err == nil {
					t.Fatalf("Email(%q) = %+v, want refusal containing %q", tc.in, got, tc.reason)
				}
				if !errors.Is(err, ErrInvalidEmail) {
					t.Errorf("error %v does not wrap ErrInvalidEmail", err)
				}
				var ce *Error
				if !errors.As(err, &ce) || !strings.Contains(ce.Reason, tc.reason) {
					t.Errorf("reason = %q, want it to contain %q", err.Error(), tc.reason)
				}
				if strings.ContainsAny(err.Error(), "\r\n\x00") {
					t.Errorf("reason contains a control character: %q", err.Error())
				}
				return
			}
			if err != nil {
				t.Fatalf("Email(%q) error: %v", tc.in, err)
			}
			if got.Canonical != tc.canonical || got.Display != tc.disp {
				t.Errorf("Email(%q) = %+v, want {%q %q}", tc.in, got, tc.canonical, tc.disp)
			}
		})
	}
}

// The Kelvin sign must not become an ordinary k anywhere: strings.ToLower
// would fold it, asciiLower must not.
func TestASCIILowerLeavesKelvin(t *testing.T) {
	if got := asciiLower("\u212AAbZ"); got != "\u212Aabz" {
		t.Errorf("asciiLower = %q", got)
	}
	if strings.ToLower("\u212A") != "k" {
		t.Skip("Unicode tables changed; the hazard this guards against is gone")
	}
}

func TestCode(t *testing.T) {
	tests := []struct {
		in, want string
		bad      bool
	}{
		{in: "12345678", want: "12345678"},
		{in: "00001234", want: "00001234"},
		{in: "0000 0000", want: "00000000"},
		{in: " 1234 5678 ", want: "12345678"},
		{in: "1234-5678", want: "12345678"},
		{in: "1\t2 3-4 5 6 7 8", want: "12345678"},
		{in: "", bad: true},
		{in: "1234567", bad: true},
		{in: "123456789", bad: true},
		{in: "１２３４５６７８", bad: true},
		{in: "1234567８", bad: true},
		{in: "١٢٣٤٥٦٧٨", bad: true},
		{in: "1234\u00a05678", bad: true}, // no-break space is not stripped
		{in: "1234\u30005678", bad: true}, // ideographic space neither
		{in: "1234567a", bad: true},
		{in: "+12345678", bad: true},
		{in: "12345678\n", bad: true},
		{in: "1234\x005678", bad: true},
		{in: strings.Repeat(" ", 60) + "12345678", bad: true}, // over the input cap
		{in: strings.Repeat(" ", 56) + "12345678", want: "12345678"},
	}
	for _, tc := range tests {
		got, err := Code(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("Code(%q) = %q, want refusal", tc.in, got)
			} else if !errors.Is(err, ErrInvalidCode) {
				t.Errorf("Code(%q) error %v does not wrap ErrInvalidCode", tc.in, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Code(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestMaskEmail(t *testing.T) {
	tests := map[string]string{
		"alice@example.com":             "a***@example.com",
		"a@example.com":                 "a***@example.com",
		"jürgen@example.com":            "j***@example.com",
		"Übel@example.com":              "Ü***@example.com",
		"nodomain":                      "***",
		"@example.com":                  "***",
		"":                              "***",
		"a@b@example.com":               "a***@example.com",
		"a@exa\r\nmple.com":             "a***@exa??mple.com",
		"\"a b\"@example.com":           "****@example.com",
		"\xffbad@example.com":           "****@example.com",
		"bob@ex\xffample.com":           "b***@ex?ample.com",
		"x@" + strings.Repeat("d", 300): "x***@" + strings.Repeat("d", MaxEmailLength),
	}
	for in, want := range tests {
		if got := MaskEmail(in); got != want {
			t.Errorf("MaskEmail(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzEmail(f *testing.F) {
	for _, s := range []string{
		"User@GMAIL.COM", "ada@example.com.", "a@bücher.example", "\u212Aelvin@example.com",
		"a＠b.example", "a@b.example\r\nBcc: x@y", "Ada <ada@example.com>", `"a"@b.example`,
		"a@xn--bcher-kva.example", "a@ß.example", "a@ＥＸＡＭＰＬＥ.com",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := Email(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidEmail) {
				t.Fatalf("error does not wrap ErrInvalidEmail: %v", err)
			}
			return
		}
		for _, v := range []string{a.Canonical, a.Display} {
			if strings.ContainsAny(v, "\r\n\x00") {
				t.Fatalf("Email(%q) returned a line break: %+v", s, a)
			}
			if len(v) > MaxEmailLength || strings.Count(v, "@") != 1 {
				t.Fatalf("Email(%q) returned %+v", s, a)
			}
		}
		if asciiLower(a.Display) != a.Canonical {
			t.Fatalf("Display %q and Canonical %q differ beyond ASCII case", a.Display, a.Canonical)
		}
		for _, v := range []string{a.Canonical, a.Display} {
			again, err := Email(v)
			if err != nil {
				t.Fatalf("Email(%q) accepted, but its result %q is refused: %v", s, v, err)
			}
			if again.Canonical != a.Canonical {
				t.Fatalf("not idempotent: %q -> %q -> %q", s, a.Canonical, again.Canonical)
			}
		}
		if again, _ := Email(a.Display); again.Display != a.Display {
			t.Fatalf("Display not stable: %q -> %q", a.Display, again.Display)
		}
	})
}

func TestMaskAddresses(t *testing.T) {
	for in, want := range map[string]string{
		"no address here": "no address here",
		`ldap search (&(mail=ada@staff.example)): timeout`: `ldap search (&(mail=a***@staff.example)): timeout`,
		`"Ada.Lovelace@Example.ORG." refused`:              `"A***@Example.ORG." refused`,
		"bind as ädä@bücher.example failed":                "bind as ä***@bücher.example failed",
		"user root@localhost, then bob+x@b.example":        "user r***@localhost, then b***@b.example",
	} {
		if got := MaskAddresses(in); got != want {
			t.Errorf("MaskAddresses(%q) = %q, want %q", in, got, want)
		}
	}
}
