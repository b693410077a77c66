package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// check-config prints the one redirect URI each tenant with upstream
// OpenID connectors registers at them, and none for a tenant without.
func TestCheckConfigPrintsUpstreamRedirect(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	withOIDC := "  - id: alpha\n    clients: [{id: app, secret: s, redirectURIs: [\"http://127.0.0.1:9/cb\"]}]\n" +
		"    connectors:\n" +
		"      - {type: oidc, id: partner, issuer: \"http://127.0.0.1:9/x\", domains: [partner.example], clientID: c, clientSecret: s}\n" +
		"      - {type: google, clientID: g, clientSecret: s}\n"
	without := "  - id: beta\n    clients: [{id: app, secret: s, redirectURIs: [\"http://127.0.0.1:9/cb\"]}]\n"
	writeRaw(t, path, "127.0.0.1:8099", withOIDC+without)
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"check-config", path}, &out, &errb); code != 0 {
		t.Fatalf("check-config: exit %d:\n%s", code, errb.String())
	}
	want := "tenant alpha: redirect URI to register at its upstream providers: http://127.0.0.1:8099/alpha/login/callback\n"
	if strings.Count(out.String(), want) != 1 || strings.Contains(out.String(), "tenant beta") {
		t.Fatalf("output lacks %q once, or names beta:\n%s", want, out.String())
	}
}
