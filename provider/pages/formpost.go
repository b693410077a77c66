package pages

import (
	"bytes"
	"html/template"
	"net/http"
	"strconv"
)

// Field is one hidden form field.
type Field struct{ Name, Value string }

// formPostTmpl is the OAuth 2.0 Form Post Response Mode page: a form that
// carries the authorization response to the app's redirect_uri and a
// script (allowed by its CSP nonce, nothing else may run) that submits it.
// Without script the guest presses the button. It is a protocol page, not
// a branded one: admins' templates do not replace it.
var formPostTmpl = template.Must(template.New("formpost").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="robots" content="noindex, nofollow"><title>Continue</title></head>
<body>
<form method="post" action="{{.Action}}">
{{range .Fields}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<noscript><button type="submit">Continue</button></noscript>
</form>
<script nonce="{{.Nonce}}">document.forms[0].submit()</script>
</body>
</html>
`))

// FormPostCSP is the policy of the form_post page: only its own script.
// form-action stays open: the form's whole purpose is to post to the
// app's origin (see SecurityHeaders).
func FormPostCSP(nonce string) string {
	return "default-src 'none'; script-src 'nonce-" + nonce + "'; frame-ancestors 'none'; base-uri 'none'"
}

// FormPost answers with the auto-submitting form that posts fields to
// action (an already validated redirect_uri), with the security headers of
// every page.
func FormPost(w http.ResponseWriter, action string, fields []Field) {
	nonce := newNonce()
	var buf bytes.Buffer
	if err := formPostTmpl.Execute(&buf, struct {
		Action, Nonce string
		Fields        []Field
	}{action, nonce, fields}); err != nil {
		renderFailed(w)
		return
	}
	hs := headerSet{h: w.Header(), vals: make([]string, 0, 7)}
	hs.security(FormPostCSP(nonce))
	hs.set("Content-Type", "text/html; charset=utf-8")
	hs.set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}
