package loadgen

import (
	"testing"

	"github.com/guestpass/guestpass/pkg/config"
)

// The generated config is one guestpass accepts (not in dev mode), with
// the abuse limits lifted and the log quiet.
func TestGeneratedConfigParses(t *testing.T) {
	secrets, code, err := newSecrets()
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []StoreConfig{
		{Type: "memory"},
		{Type: "redis", Addrs: []string{"127.0.0.1:7000", "127.0.0.1:7001"}, Password: "pa$$word", KeyPrefix: "bench-x:"},
	} {
		c := ServerConfig{BaseURL: "http://127.0.0.1:8080", Listen: "127.0.0.1:8080", MetricsListen: "127.0.0.1:9090",
			SMTPAddr: "127.0.0.1:2525", Store: st, Secrets: secrets, AdminSecret: "admin-secret",
			Tenants: []Tenant{{ID: "bench-0", ClientID: "bench-app", ClientSecret: "s0", RedirectURI: redirectURI},
				{ID: "bench-1", ClientID: "bench-app", ClientSecret: "s1", RedirectURI: redirectURI}}}
		cfg, err := config.Parse([]byte(c.YAML()), "bench.yaml", func(string) (string, bool) { return "", false })
		if err != nil {
			t.Fatalf("%s:\n%s\n%v", st.Type, c.YAML(), err)
		}
		if cfg.Dev || cfg.Store.Type != st.Type || cfg.Log.Level != "warn" || len(cfg.Tenants) != 2 || string(cfg.Secrets.Code) != string(code) {
			t.Fatalf("%s: parsed %+v", st.Type, cfg)
		}
		if st.Type == "redis" && (cfg.Store.Redis.Password != "pa$$word" || len(cfg.Store.Redis.Addrs) != 2) {
			t.Fatalf("redis block: %+v", cfg.Store.Redis)
		}
		otp := cfg.Tenant("bench-1").EmailOTP
		if otp.AbuseLimits.MaxCodesPerIPPerHour != 100000 || otp.ResendCooldown != 0 || cfg.Network.AuthorizePerIPPerMinute != 1000000 {
			t.Fatalf("limits not lifted: %+v %+v", otp, cfg.Network)
		}
	}
}
