// Package mailparse reads a mail as guestpass sends it (multipart text
// and html, quoted-printable) and finds the passcode in it. Both the test
// SMTP server (mailtest) and the load tool's sink (loadgen) read mails;
// they share this so that neither decodes them its own way.
package mailparse

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"regexp"
	"strconv"
	"strings"

	"github.com/guestpass/guestpass/pkg/canon"
)

// Mail is a mail's top-level header and its decoded parts.
type Mail struct {
	Header mail.Header
	// Subject is decoded (RFC 2047).
	Subject string
	// Text and HTML are the decoded bodies of the text/plain and
	// text/html parts (the whole body when the mail is not multipart).
	Text, HTML string
}

// Parse reads raw (a mail's DATA).
func Parse(raw []byte) (Mail, error) {
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Mail{}, err
	}
	out := Mail{Header: m.Header}
	dec := new(mime.WordDecoder)
	if out.Subject, err = dec.DecodeHeader(m.Header.Get("Subject")); err != nil {
		return Mail{}, fmt.Errorf("subject: %w", err)
	}
	err = walk(m.Header.Get("Content-Type"), m.Header.Get("Content-Transfer-Encoding"), m.Body, &out)
	return out, err
}

func walk(ctype, cte string, body io.Reader, out *Mail) error {
	if ctype == "" {
		ctype = "text/plain"
	}
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		return fmt.Errorf("content-type %q: %w", ctype, err)
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if err := walk(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p, out); err != nil {
				return err
			}
		}
	}
	var r io.Reader = body
	switch strings.ToLower(cte) {
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	case "base64":
		return errors.New("base64 bodies are not expected from guestpass")
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	switch mt {
	case "text/plain":
		out.Text = string(b)
	case "text/html":
		out.HTML = string(b)
	}
	return nil
}

// codePattern is a passcode: canon.CodeLength digits on their own.
var codePattern = regexp.MustCompile(`\b[0-9]{` + strconv.Itoa(canon.CodeLength) + `}\b`)

// Code returns the first passcode in a mail body ("" if none).
func Code(body string) string {
	return codePattern.FindString(body)
}
