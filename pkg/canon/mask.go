package canon

import (
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
