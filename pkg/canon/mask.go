package canon

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaskEmail hides an address for logs (PRODUCT.md B8: emails masked):
// the first character of the local part, "***", and the domain, e.g.
// "a***@example.com". It works on any string, valid address or not, and
// never returns more than one character of the local part, or control
// characters from the domain.
func MaskEmail(s string) string {
	at := strings.LastIndexByte(s, '@')
	if at <= 0 {
		return "***"
	}
	first, _ := utf8.DecodeRuneInString(s)
	if first == utf8.RuneError || unicode.IsControl(first) || first == '"' {
		first = '*'
	}
	domain := s[at+1:]
	if len(domain) > MaxEmailLength {
		domain = domain[:MaxEmailLength]
	}
	domain = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(domain, "?"))
	return string(first) + "***@" + domain
}

// addressInText finds mail addresses inside free text (an error's text, a
// directory's diagnostic message): an RFC 5322 atom or dotted atoms, in
// any script, "@", and a domain of one or more labels in any script.
// Looser than an address is (a false match only masks more), except that
// "=" ends it: legal in a local part but, in text, the end of a key such
// as an LDAP filter's mail=, whose first letter would be shown instead.
var addressInText = regexp.MustCompile(`[\p{L}\p{N}.!#$%&'*+/?^_{|}~-]+@[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)*\.?`)

// MaskAddresses masks, with MaskEmail, every address in s: for free text
// bound for a log, such as an upstream's or a library's error text, which
// may quote the address it failed on.
func MaskAddresses(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	return addressInText.ReplaceAllStringFunc(s, MaskEmail)
}
