package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/guestpass/guestpass/pkg/guests"
	"github.com/guestpass/guestpass/pkg/jsonhttp"
)

// guestJSON is the contract's Guest: times in RFC 3339 (UTC), absent when
// unset; displayName and source always present ("" when empty), as the
// contract in PRODUCT.md B5 shows them.
type guestJSON struct {
	ID           string `json:"id"`
	Email        string `json:"email"`
	DisplayName  string `json:"displayName"`
	State        string `json:"state"`
	Source       string `json:"source"`
	InvitedAt    string `json:"invitedAt,omitempty"`
	RedeemedAt   string `json:"redeemedAt,omitempty"`
	LastSignInAt string `json:"lastSignInAt,omitempty"`
}

func toJSON(g *guests.Guest) guestJSON {
	return guestJSON{ID: g.ID, Email: g.Email, DisplayName: g.DisplayName, State: string(g.State), Source: g.Source,
		InvitedAt: rfc3339(g.InvitedAt), RedeemedAt: rfc3339(g.RedeemedAt), LastSignInAt: rfc3339(g.LastSignInAt)}
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	var b errorBody
	b.Error.Code, b.Error.Message = code, msg
	jsonhttp.Write(w, status, b)
}

// decode reads exactly one JSON object into v: application/json, at most
// MaxBodyBytes, no unknown fields, nothing after it. The error's text is
// meant for the caller.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return errors.New("the body must be application/json")
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		return describe(err)
	}
	// encoding/json would turn invalid UTF-8 into U+FFFD silently; a name
	// that arrived broken is refused instead (RFC 8259 §8.1).
	if !utf8.Valid(body) {
		return errors.New("the body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return describe(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("the body must hold exactly one JSON object")
	}
	return nil
}

// describe turns a decoding error into a precise message.
func describe(err error) error {
	var tooBig *http.MaxBytesError
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooBig):
		return fmt.Errorf("the body is larger than %d bytes", MaxBodyBytes)
	case errors.Is(err, io.EOF):
		return errors.New("the body is empty; send a JSON object")
	case errors.As(err, &syn):
		return fmt.Errorf("the body is not valid JSON (at byte %d)", syn.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("the body is not valid JSON (it ends too early)")
	case errors.As(err, &typ):
		return fmt.Errorf("field %q must be a JSON %s", typ.Field, typ.Type.String())
	}
	// json: unknown field "x"
	return fmt.Errorf("the body is not acceptable: %s", err.Error())
}
