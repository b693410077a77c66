package tenant_test

import (
	"strings"
	"testing"

	"github.com/guestpass/guestpass/connectors"
	"github.com/guestpass/guestpass/connectors/tenant"
)

// tenants is a deployment of contoso (contoso.example) and fabrikam.
type tenants struct{}

func (tenants) Issuer(id string) (string, bool) {
	if id != "contoso" && id != "fabrikam" {
		return "", false
	}
	return "https://id.example/" + id, true
}

func (tenants) Domains(id string) []string {
	if id == "contoso" {
		return []string{"contoso.example"}
	}
	return nil
}

func spec(home, secret, name string) connectors.Spec {
	return connectors.Spec{Tenant: "fabrikam", Type: tenant.Type, ID: "contoso", Name: name, Domains: []string{"contoso.example"},
		Options: tenant.Options{Home: home, ClientSecret: secret}}
}

func open(t *testing.T, s connectors.Spec, env connectors.Env) (connectors.Connector, error) {
	t.Helper()
	return connectors.NewRegistry().Register(tenant.Type, tenant.New).Open(s, env)
}

func TestOpen(t *testing.T) {
	c, err := open(t, spec("contoso", "derived", ""), connectors.Env{BaseURL: "https://id.example", Tenants: tenants{}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.(connectors.CallbackConnector); !ok {
		t.Fatalf("%T is not a callback connector", c)
	}
	if c.Source() != "tenant:contoso" || c.ID() != "contoso" || c.Name() != "contoso" {
		t.Fatalf("source %q, id %q, name %q", c.Source(), c.ID(), c.Name())
	}
	if !c.Claims("ada@contoso.example") || c.Claims("ada@fabrikam.example") {
		t.Fatal("claims other than its domains")
	}
	if tenant.ClientID("fabrikam") != "guestpass:tenant:fabrikam" {
		t.Fatalf("client id %q", tenant.ClientID("fabrikam"))
	}
}

func TestOpenRefuses(t *testing.T) {
	env := connectors.Env{BaseURL: "https://id.example", Tenants: tenants{}}
	for _, tc := range []struct {
		name string
		s    connectors.Spec
		env  connectors.Env
		want string
	}{
		{"no home", spec("", "derived", "Contoso"), env, "home is required"},
		{"no secret", spec("contoso", "", "Contoso"), env, "secret is missing"},
		{"itself", spec("fabrikam", "derived", "Contoso"), env, "this tenant itself"},
		{"unknown home", spec("northwind", "derived", "Contoso"), env, `"northwind" is not a tenant`},
		{"no tenants", spec("contoso", "derived", "Contoso"), connectors.Env{BaseURL: "https://id.example"}, "no view of the deployment's tenants"},
		{"wrong options", connectors.Spec{Tenant: "fabrikam", Type: tenant.Type, ID: "x"}, env, "want tenant.Options"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := open(t, tc.s, tc.env); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}
