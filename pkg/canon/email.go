// Package canon holds the pure input rules of guestpass: how an email
// address and a typed passcode are canonicalised (PRODUCT.md B3, B10;
// notes/otp-abuse-cases.md cases 10–13), and which hosts are this
// machine's (where plain http is allowed).
//
// Everything here is a function of its input only: no I/O, no state.
package canon

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// ErrInvalidEmail is wrapped by every error Email returns.
var ErrInvalidEmail = errors.New("invalid email address")

// ErrInvalidCode is wrapped by every error Code returns.
var ErrInvalidCode = errors.New("invalid code")

// Error is a refused input. Reason is a complete sentence meant for the
// person who typed the value (a form shows it next to the field); it never
// repeats the input back, so it is also safe to log.
type Error struct {
	// Kind is ErrInvalidEmail or ErrInvalidCode (errors.Is matches it).
	Kind   error
	Reason string
}

func (e *Error) Error() string { return e.Reason }

// Unwrap lets errors.Is(err, ErrInvalidEmail) work.
func (e *Error) Unwrap() error { return e.Kind }

func emailErr(format string, args ...any) error {
	return &Error{Kind: ErrInvalidEmail, Reason: fmt.Sprintf(format, args...)}
}

// MaxEmailLength is the longest address accepted, in bytes (RFC 5321's
// path limit minus the angle brackets).
const MaxEmailLength = 254

// maxLocalLength is RFC 5321's limit on the part before the @.
const maxLocalLength = 64

// Address is a canonicalised email address.
type Address struct {
	// Canonical is the identity of the address: the local part with ASCII
	// letters lowercased, "@", the domain in lowercase ASCII (IDNA) form.
	// Compare and store by this value; mail is sent to it.
	Canonical string
	// Display is the local part as typed with the canonical domain, for
	// showing the address back to the person who typed it.
	Display string
}

// domainProfile is IDNA's lookup profile (UTS #46 mapping, STD3 rules,
// bidi and joiner checks) made strict: DNS length limits and no empty
// labels. Transitional processing stays off so that ß and ς keep their
// IDNA2008 meaning instead of being rewritten to other domains.
var domainProfile = idna.New(
	idna.MapForLookup(),
	idna.BidiRule(),
	idna.VerifyDNSLength(true),
	idna.StrictDomainName(true),
	idna.Transitional(false),
)

// Email canonicalises an address typed by a person (or sent as an OIDC
// login_hint). Only a bare address is accepted: no display name, angle
// brackets, comments or quoted local parts, since none of those belong in
// a sign-in form and each is a place to smuggle text into mail headers.
func Email(s string) (Address, error) {
	// Bound the work before doing any: the HTTP layer caps bodies, but this
	// function must be safe on its own.
	if len(s) > 4*MaxEmailLength {
		return Address{}, emailErr("The email address is too long (at most %d characters).", MaxEmailLength)
	}
	if !utf8.ValidString(s) {
		return Address{}, emailErr("The email address contains bytes that are not valid text.")
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return Address{}, emailErr("Enter an email address.")
	}
	if len(s) > MaxEmailLength {
		return Address{}, emailErr("The email address is too long (at most %d characters).", MaxEmailLength)
	}
	for _, r := range s {
		// CR, LF and NUL are header injection; other controls (C0, DEL,
		// C1) have no business in an address either.
		if unicode.IsControl(r) {
			return Address{}, emailErr("The email address contains a line break or another control character.")
		}
		// IDNA mapping would silently drop zero-width characters and soft
		// hyphens; refuse them instead, the person cannot see them.
		if unicode.Is(unicode.Cf, r) {
			return Address{}, emailErr("The email address contains an invisible character (%U); retype it.", r)
		}
	}
	if strings.ContainsAny(s, "＠﹫") {
		return Address{}, emailErr("Use the ordinary @ sign: the full-width ＠ is not accepted.")
	}
	if strings.ContainsAny(s, "<>") {
		return Address{}, emailErr("Enter only the address itself, like name@example.com, without a name or angle brackets.")
	}
	switch n := strings.Count(s, "@"); {
	case n == 0:
		return Address{}, emailErr("The email address needs an @ followed by a domain, like name@example.com.")
	case n > 1:
		return Address{}, emailErr("The email address must contain exactly one @.")
	}
	at := strings.IndexByte(s, '@')
	local, domain := s[:at], s[at+1:]

	if err := checkLocal(local); err != nil {
		return Address{}, err
	}

	// A fully qualified name may end in a dot; it is the same domain.
	domain = strings.TrimSuffix(domain, ".")
	asciiDomain, err := canonicalDomain(domain)
	if err != nil {
		return Address{}, err
	}

	// net/mail has the last word on syntax. Requiring its result to equal
	// the input refuses everything it would silently rewrite: display
	// names, comments, quoted strings, folding whitespace.
	bare := local + "@" + asciiDomain
	parsed, perr := mail.ParseAddress(bare)
	if perr != nil || parsed.Name != "" || parsed.Address != bare {
		return Address{}, emailErr("Enter only the address itself, like name@example.com.")
	}

	a := Address{
		Canonical: asciiLower(local) + "@" + asciiDomain,
		Display:   bare,
	}
	if len(a.Canonical) > MaxEmailLength {
		// IDNA conversion can lengthen the domain.
		return Address{}, emailErr("The email address is too long (at most %d characters).", MaxEmailLength)
	}
	return a, nil
}

// atextSpecials are the non-alphanumeric characters RFC 5322 allows in an
// unquoted local part (dot handled separately).
const atextSpecials = "!#$%&'*+-/=?^_`{|}~"

func checkLocal(local string) error {
	if local == "" {
		return emailErr("The email address needs a name before the @.")
	}
	if len(local) > maxLocalLength {
		return emailErr("The part before the @ is too long (at most %d characters).", maxLocalLength)
	}
	for _, r := range local {
		if r >= utf8.RuneSelf {
			// We only fold ASCII case when comparing addresses. A non-ASCII
			// local part would need Unicode case rules that mail servers do
			// not agree on (the Kelvin sign K folds to k under
			// strings.ToLower, so two "different" addresses would collide),
			// so it is refused outright.
			if r == '\u212A' {
				return emailErr("The part before the @ contains the Kelvin sign (U+212A), which looks like K but is not; type an ordinary K.")
			}
			return emailErr("The part before the @ may only contain ASCII letters, digits and . %s (found %q, %U).", atextSpecials, r, r)
		}
		if r == '"' || r == '\\' {
			return emailErr("Quoted addresses are not supported; enter the address without quotes.")
		}
		if r == ' ' || r == '\t' {
			return emailErr("The email address must not contain spaces.")
		}
		if !isAtext(byte(r)) && r != '.' {
			return emailErr("The part before the @ may only contain ASCII letters, digits and . %s (found %q).", atextSpecials, r)
		}
	}
	if strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") || strings.Contains(local, "..") {
		return emailErr("The part before the @ cannot start or end with a dot or contain two dots in a row.")
	}
	return nil
}

func isAtext(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte(atextSpecials, c) >= 0
}

func canonicalDomain(domain string) (string, error) {
	if domain == "" {
		return "", emailErr("The email address needs a domain after the @, like example.com.")
	}
	if strings.HasPrefix(domain, "[") {
		return "", emailErr("Addresses at an IP address are not accepted; use a domain name.")
	}
	ascii, err := domainProfile.ToASCII(domain)
	if err != nil {
		return "", emailErr("The domain after the @ is not a valid domain name.")
	}
	// The profile lowercases while mapping; ASCII labels already in
	// Punycode pass through as typed, so fold them too.
	ascii = asciiLower(ascii)
	if !strings.Contains(ascii, ".") {
		return "", emailErr("The domain after the @ must contain a dot, like example.com.")
	}
	labels := strings.Split(ascii, ".")
	for _, l := range labels {
		if !validLabel(l) {
			return "", emailErr("The domain after the @ is not a valid domain name.")
		}
	}
	tld := labels[len(labels)-1]
	if strings.Trim(tld, "0123456789") == "" {
		return "", emailErr("The domain after the @ must end in a name, not a number.")
	}
	if len(ascii) > MaxEmailLength-2 {
		return "", emailErr("The domain after the @ is too long.")
	}
	return ascii, nil
}

// validLabel re-checks the converted label as a DNS host label
// (letters, digits, inner hyphens, 1–63 bytes): belt and braces over the
// IDNA profile, whose options are easy to weaken by accident.
func validLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// asciiLower folds A–Z only. strings.ToLower is deliberately not used: it
// applies Unicode rules (U+212A KELVIN SIGN becomes "k"), which would let
// two distinct inputs share one identity.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}
