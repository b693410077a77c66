package main

import (
	"bytes"
	"html/template"
	"net/http"
	"time"
)

type homeData struct {
	Issuer string
}

type signedInData struct {
	Issuer, Subject, Email string
	Claims, UserInfo       string
	Notice                 string
	AccessExpiry           time.Time
	HasRefresh             bool
}

type errorData struct {
	Issuer, Message, Detail string
}

// pages: no script, no external asset, so the strict CSP of ServeHTTP holds.
var pages = template.Must(template.New("").Parse(`
{{define "top"}}<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.}} – guestpass example app</title>
<style>
body{margin:0;background:#f3f4f6;color:#1f2328;font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;line-height:1.5}
main{max-width:46rem;margin:2rem auto;padding:1.5rem 2rem;background:#fff;border:1px solid #d0d7de;border-radius:.5rem}
h1{font-size:1.5rem;margin:0 0 1rem}
h2{font-size:1.125rem;margin:1.5rem 0 .5rem}
pre{background:#f6f8fa;border:1px solid #d0d7de;border-radius:.25rem;padding:.75rem;overflow:auto;font-size:.875rem}
.notice{border-left:.4rem solid #0b5cad;background:#eef5fc;padding:.5rem 1rem;margin:0 0 1rem}
.error{border-left:.4rem solid #b42318;background:#fdf0ef;padding:.5rem 1rem;margin:0 0 1rem}
form{display:inline-block;margin:0 .75rem .5rem 0}
button{font:inherit;font-weight:600;padding:.5rem 1.25rem;border:2px solid #0b5cad;border-radius:.25rem;background:#0b5cad;color:#fff;cursor:pointer}
button.secondary{background:#fff;color:#0b4f94}
:focus-visible{outline:3px solid #1f2328;outline-offset:2px}
.meta{color:#57606a;font-size:.9375rem}
code{font-family:ui-monospace,Menlo,Consolas,monospace}
</style>
</head>
<body>
<main>
{{end}}

{{define "bottom"}}</main>
</body>
</html>
{{end}}

{{define "home"}}{{template "top" "Sign in"}}
<h1>guestpass example app</h1>
<p>This app signs you in with <code>{{.Issuer}}</code> using the authorization-code flow with PKCE.</p>
<form method="get" action="/login"><button type="submit">Sign in</button></form>
{{template "bottom"}}{{end}}

{{define "signedin"}}{{template "top" "Signed in"}}
<h1>Signed in{{if .Email}} as {{.Email}}{{end}}</h1>
{{if .Notice}}<p class="notice" role="status">{{.Notice}}</p>{{end}}
<p class="meta">Issuer <code>{{.Issuer}}</code> · subject <code>{{.Subject}}</code>{{if not .AccessExpiry.IsZero}} · access token valid until {{.AccessExpiry.Format "15:04:05 MST"}}{{end}} · {{if .HasRefresh}}a refresh token is held{{else}}no refresh token{{end}} (tokens stay on the server)</p>
<form method="post" action="/refresh"><button type="submit"{{if not .HasRefresh}} disabled{{end}}>Refresh</button></form>
<form method="post" action="/logout"><button type="submit" class="secondary">Sign out</button></form>
<h2>ID token claims</h2>
<pre>{{.Claims}}</pre>
<h2>Userinfo</h2>
<pre>{{.UserInfo}}</pre>
{{template "bottom"}}{{end}}

{{define "error"}}{{template "top" "Error"}}
<h1>Sign-in failed</h1>
<p class="error" role="alert">{{.Message}}</p>
{{if .Detail}}<pre>{{.Detail}}</pre>{{end}}
<form method="get" action="/"><button type="submit">Back</button></form>
{{template "bottom"}}{{end}}
`))

// render executes into a buffer first, so a template error is a clean 500
// rather than half a page.
func (a *App) render(w http.ResponseWriter, status int, name string, data any) {
	var b bytes.Buffer
	if err := pages.ExecuteTemplate(&b, name, data); err != nil {
		a.log.Error("render " + name + ": " + err.Error())
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = b.WriteTo(w)
}
