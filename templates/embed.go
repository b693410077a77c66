// Package templates embeds the pages and mails into the binary. Admins may
// replace them from a directory (config templatesDir: its pages/ and mail/).
package templates

import "embed"

// FS holds pages/ (html/template pages) and mail/ (mail bodies).
//
//go:embed all:pages all:mail
var FS embed.FS
