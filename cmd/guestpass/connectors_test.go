package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// connectorTenant is a tenant with a connector of a type this version
// does not implement.
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

// Configured connectors of a type this version does not implement are
// refused by check-config and serve with the file, the key and the type,
// never silently ignored.
func TestUnimplementedConnectorRefused(t *testing.T) {
	for _, typ := range []string{"directory", "oidc", "tenant"} {
		t.Run(typ, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			tenant := connectorTenant("alpha", typ)
			if typ == "directory" {
				tenant = strings.Replace(tenant, "domains: [corp.example]}",
					`domains: [corp.example], users: [{email: a@corp.example, passwordHash: "$$2a$$10$$bPiZJxP.DzfVDuRIwM8Z.uEJG.lmAhUk4VdBnQmvRNxd/fMvcsU5q"}]}`, 1)
			}
			if typ == "oidc" {
				tenant = strings.Replace(tenant, "domains: [corp.example]}", "domains: [corp.example], issuer: https://idp.corp.example, clientID: x}", 1)
			}
			writeRaw(t, path, freePort(t), tenant)
			want := path + `: tenants[0].connectors[0].type: connector type "` + typ + `" is not implemented yet in this version`
			var out, errb bytes.Buffer
			if code := run(context.Background(), []string{"check-config", path}, &out, &errb); code != 1 || !strings.Contains(errb.String(), want) {
				t.Fatalf("check-config: exit %d, want 1 and %q:\n%s", code, want, errb.String())
			}
			errb.Reset()
			if code := run(context.Background(), []string{"serve", "--config", path}, &out, &errb); code == 0 || !strings.Contains(errb.String(), want) {
				t.Fatalf("serve: exit %d, want a refusal with %q:\n%s", code, want, errb.String())
			}
		})
	}
}

// A reload (SIGHUP) to a config with an unimplemented connector is refused
// and the running config keeps serving.
func TestReloadRefusesUnimplementedConnector(t *testing.T) {
	addr := freePort(t)
	path := filepath.Join(t.TempDir(), "c.yaml")
	writeConfig(t, path, addr, "alpha")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"serve", "--config", path}, logs, logs) }()
	base := "http://" + addr
	eventually(t, "server up", func() bool { return status(base+"/healthz") == 200 })

	writeRaw(t, path, addr, connectorTenant("alpha", "tenant")+connectorTenant("beta", "tenant"))
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, "refused reload logged", func() bool {
		return strings.Contains(logs.String(), "reload refused") && strings.Contains(logs.String(), `connector type \"tenant\" is not implemented yet`)
	})
	if s := status(base + "/beta/.well-known/openid-configuration"); s != 404 {
		t.Fatalf("beta after a refused reload: %d", s)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exit %d:\n%s", code, logs.String())
	}
}
