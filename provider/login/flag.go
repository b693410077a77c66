package login

import (
	"errors"
	"fmt"
)

// flag is a bool that is always one byte in JSON ("1" or "0"), unlike
// true and false: a sealed cookie holding it has the same length either
// way, so its length cannot tell a known guest's address from another
// (see signin).
type flag bool

// MarshalJSON writes 1 or 0.
func (f flag) MarshalJSON() ([]byte, error) {
	if f {
		return []byte("1"), nil
	}
	return []byte("0"), nil
}

var errFlag = errors.New("login: flag is neither 1 nor 0")

// UnmarshalJSON reads 1 or 0 and refuses anything else (an old cookie's
// true or false among them: its guest starts over at the email page).
func (f *flag) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "1":
		*f = true
	case "0":
		*f = false
	default:
		return fmt.Errorf("%w: %q", errFlag, b)
	}
	return nil
}
