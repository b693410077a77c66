package main

import (
	"os"
	"strings"
	"syscall"
	"testing"
)

// connectorTenant is a tenant with a connector of type typ and no
// settings but its domains: for most types, a connector that cannot be
// used (a tenant connector without its home, say).
func connectorTenant(id, typ string) string {
	return "  - id: " + id + "\n    clients: [{id: app, secret: s, redirectURIs: [\"http://127.0.0.1:9/cb\"]}]\n" +
		"    connectors:\n      - {type: " + typ + ", id: corp, domains: [corp.example]}\n"
}

func writeRaw(t *testing.T, path, addr, tenants string) {
	t.Helper()
	s := strings.NewReplacer("%ADDR%", addr, "%TENANTS%", tenants).Replace(serveConfig)
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// A reload (SIGHUP) to a config with a connector that cannot be used (a
// tenant connector without its home) is refused, naming the key, and the
// running config keeps serving. (A type without a factory is refused the
// same way: provider/server's TestConnectorTypeNotImplemented.)
func TestReloadRefusesUnusableConnector(t *testing.T) {
	srv, path, addr := serveAlpha(t)
	base, logs := srv.base, srv.logs

	writeRaw(t, path, addr, connectorTenant("alpha", "tenant")+connectorTenant("beta", "tenant"))
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, "refused reload logged", func() bool {
		return strings.Contains(logs.String(), "reload refused") && strings.Contains(logs.String(), `tenants[0].connectors[0].home`)
	})
	if s := status(base + "/beta/.well-known/openid-configuration"); s != 404 {
		t.Fatalf("beta after a refused reload: %d", s)
	}
	srv.stop(t)
}
