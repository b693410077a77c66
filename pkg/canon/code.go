package canon

import (
	"fmt"
	"strings"
	"unicode"
)

// CodeLength is the number of digits in a passcode (PRODUCT.md B3).
const CodeLength = 8

// maxCodeInput bounds the work done on a typed code: generous for a code
// typed with separators, tiny for an attacker.
const maxCodeInput = 64

func codeErr(format string, args ...any) error {
	return &Error{Kind: ErrInvalidCode, Reason: fmt.Sprintf(format, args...)}
}

// Code canonicalises a typed passcode. ASCII space, tab and hyphen are
// removed (people copy "1234 5678" or "1234-5678" from the mail); nothing
// else is: other Unicode spaces and digits (full-width ０–９, Arabic-Indic,
// ...) are refused rather than mapped, so that exactly one spelling of a
// code exists. What remains must be exactly 8 ASCII digits; leading zeros
// are kept.
func Code(s string) (string, error) {
	if len(s) > maxCodeInput {
		return "", codeErr("Enter the %d-digit code from the email.", CodeLength)
	}
	var b strings.Builder
	b.Grow(CodeLength)
	for _, r := range s {
		switch {
		case r == ' ' || r == '\t' || r == '-':
			continue
		case '0' <= r && r <= '9':
			b.WriteRune(r)
		case unicode.IsDigit(r):
			return "", codeErr("Type the code with the digits 0–9 (full-width and other digits are not accepted).")
		default:
			return "", codeErr("A code has only digits: enter the %d-digit code from the email.", CodeLength)
		}
	}
	if b.Len() != CodeLength {
		return "", codeErr("Enter the %d-digit code from the email.", CodeLength)
	}
	return b.String(), nil
}
