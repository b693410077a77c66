package main

import (
	"fmt"
	"io"

	"github.com/guestpass/guestpass/pkg/config"
	"github.com/guestpass/guestpass/provider/server"
)

func checkConfig(path string, stdout, stderr io.Writer) int {
	cfg, err := config.Load(path)
	if err == nil {
		// The file is well formed; every connector must also be of a type
		// this version implements (serve refuses the same way).
		err = server.CheckConnectors(cfg, nil)
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	fmt.Fprintf(stdout, "%s: ok (%d tenants, store %s)\n", path, len(cfg.Tenants), cfg.Store.Type)
	// The one URI each tenant registers at its upstream providers
	// (Microsoft, Google, a partner's OpenID provider).
	for _, r := range server.UpstreamRedirects(cfg) {
		fmt.Fprintf(stdout, "tenant %s: redirect URI to register at its upstream providers: %s\n", r.Tenant, r.URI)
	}
	return 0
}

func genSecrets(stdout, stderr io.Writer) int {
	s, err := config.GenerateSecrets()
	if err != nil {
		fmt.Fprintln(stderr, "guestpass:", err)
		return 1
	}
	fmt.Fprint(stdout, s)
	return 0
}
