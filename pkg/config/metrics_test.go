package config

import (
	"errors"
	"strings"
	"testing"
)

// metrics.listen: empty is off; otherwise a host:port of its own, never
// the public listener's (B8: /metrics is not served publicly).
func TestMetricsListen(t *testing.T) {
	cases := []struct {
		name, metrics string
		fragment      string // "" = valid
	}{
		{"absent is off", "", ""},
		{"own port", "metrics: {listen: 127.0.0.1:9090}", ""},
		{"same host other port", "metrics: {listen: \"127.0.0.1:8081\"}", ""},
		{"equal to listen", "metrics: {listen: 127.0.0.1:8080}", `"127.0.0.1:8080" is the public listener (listen: "127.0.0.1:8080")`},
		{"all interfaces, same port", "metrics: {listen: \"0.0.0.0:8080\"}", "is the public listener"},
		{"empty host, same port", "metrics: {listen: \":8080\"}", "is the public listener"},
		{"not host:port", "metrics: {listen: \"9090\"}", "not host:port"},
		{"bad port", "metrics: {listen: 127.0.0.1:0}", "1 to 65535"},
		{"with scheme", "metrics: {listen: \"http://127.0.0.1:9090\"}", "without scheme or path"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			text := mustEdit(t, "listen: 127.0.0.1:8080\n", "listen: 127.0.0.1:8080\n"+tc.metrics+"\n")
			cfg, err := Parse([]byte(text), "test.yaml", lookup(testEnv(t)))
			if tc.fragment == "" {
				if err != nil {
					t.Fatal(err)
				}
				if want := strings.TrimSuffix(strings.TrimPrefix(strings.Trim(tc.metrics, `"`), "metrics: {listen: "), "}"); cfg.Metrics.Listen != strings.Trim(want, `"`) {
					t.Fatalf("metrics.listen = %q, want %q", cfg.Metrics.Listen, want)
				}
				return
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("want a config error, got %v", err)
			}
			for _, p := range ce.Problems {
				if p.Key == "metrics.listen" && strings.Contains(p.Message, tc.fragment) && p.Line == 3 {
					return
				}
			}
			t.Fatalf("want metrics.listen (line 3) with %q; got:\n%v", tc.fragment, err)
		})
	}
}

// metrics.pprof is off unless set, and needs a metrics listener: profiles
// are served nowhere else.
func TestMetricsPprof(t *testing.T) {
	cases := []struct {
		name, metrics string
		want          bool
		fragment      string // "" = valid
	}{
		{"absent is off", "metrics: {listen: 127.0.0.1:9090}", false, ""},
		{"on", "metrics: {listen: 127.0.0.1:9090, pprof: true}", true, ""},
		{"off", "metrics: {listen: 127.0.0.1:9090, pprof: false}", false, ""},
		{"without a listener", "metrics: {pprof: true}", false, "needs metrics.listen"},
		{"not a boolean", "metrics: {listen: 127.0.0.1:9090, pprof: maybe}", false, "not a boolean"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			text := mustEdit(t, "listen: 127.0.0.1:8080\n", "listen: 127.0.0.1:8080\n"+tc.metrics+"\n")
			cfg, err := Parse([]byte(text), "test.yaml", lookup(testEnv(t)))
			if tc.fragment == "" {
				if err != nil {
					t.Fatal(err)
				}
				if cfg.Metrics.Pprof != tc.want {
					t.Fatalf("metrics.pprof = %v, want %v", cfg.Metrics.Pprof, tc.want)
				}
				return
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("want a config error, got %v", err)
			}
			for _, p := range ce.Problems {
				if p.Key == "metrics.pprof" && strings.Contains(p.Message, tc.fragment) && p.Line == 3 {
					return
				}
			}
			t.Fatalf("want metrics.pprof (line 3) with %q; got:\n%v", tc.fragment, err)
		})
	}
	// The default config has no metrics listener, hence no profiles.
	cfg, err := Parse([]byte(mustEdit(t, "listen: 127.0.0.1:8080\n", "listen: 127.0.0.1:8080\n")), "test.yaml", lookup(testEnv(t)))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Metrics.Pprof {
		t.Fatal("pprof on by default")
	}
}
