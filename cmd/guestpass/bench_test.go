package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/guestpass/guestpass/pkg/config"
	"github.com/guestpass/guestpass/pkg/loadgen"
	"github.com/guestpass/guestpass/pkg/store/redistest"
)

// runBenchJSON runs `guestpass bench args... --json` in this process; the
// guestpass it starts is this test binary re-executed as the real command
// (TestMain), so its CPU is read out of process as in a real run.
func runBenchJSON(t *testing.T, args ...string) loadgen.Report {
	t.Helper()
	t.Setenv(guestpassMain, "1")
	var out, errb bytes.Buffer
	args = append([]string{"bench", "--json", "--duration", "1s", "--warmup", "200ms", "--concurrency", "2"}, args...)
	if code := run(context.Background(), args, &out, &errb); code != 0 {
		t.Fatalf("exit %d:\n%s", code, errb.String())
	}
	var rep loadgen.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v:\n%s", err, out.String())
	}
	return rep
}

// checkResults wants every scenario to have completed operations without
// an error, and the CPU readings to have seen work.
func checkResults(t *testing.T, rep loadgen.Report, scenarios []string, redis bool) {
	t.Helper()
	if len(rep.Results) != len(scenarios) {
		t.Fatalf("%d results, want %v", len(rep.Results), scenarios)
	}
	for i, r := range rep.Results {
		if r.Scenario != scenarios[i] || r.Ops == 0 || r.Errors != 0 {
			t.Errorf("%s: %d ops, %d errors %v %v", r.Scenario, r.Ops, r.Errors, r.ErrorKinds, r.ErrorSamples)
		}
		if r.ServerCPUMsPerOp == nil || *r.ServerCPUMsPerOp <= 0 || r.ToolCPUMsPerOp <= 0 {
			t.Errorf("%s: no CPU reading: %+v", r.Scenario, r)
		}
		if redis && r.Scenario == "signin" && (r.RedisCPUMsPerOp == nil || *r.RedisCPUMsPerOp <= 0) {
			t.Errorf("signin: no Redis CPU reading: %+v", r)
		}
		if r.Scenario == "signin" && int64(r.Mails) < r.Ops {
			t.Errorf("signin: %d mails for %d sign-ins", r.Mails, r.Ops)
		}
	}
}

func TestBenchMemory(t *testing.T) {
	rep := runBenchJSON(t, "--store", "memory")
	checkResults(t, rep, loadgen.Scenarios(), false)
}

// Two replicas on one Redis (with AOF): each request goes to the other
// replica, so every code mailed through one is checked through the other.
func TestBenchRedisReplicas(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed")
	}
	scenarios := []string{"signin", "refresh"}
	rep := runBenchJSON(t, "--store", "redis", "--replicas", "2", "--tenants", "2", "--guests", "50", "--scenario", "signin,refresh")
	checkResults(t, rep, scenarios, true)
	for _, r := range rep.Results {
		if len(r.RequestsPerReplica) != 2 || r.RequestsPerReplica[0] == 0 || r.RequestsPerReplica[1] == 0 {
			t.Errorf("%s: requests per replica %v", r.Scenario, r.RequestsPerReplica)
		}
	}
	if rep.Params.Replicas != 2 || rep.Params.Guests != 50 {
		t.Errorf("params %+v", rep.Params)
	}
}

// The private Redis of --redis-unix listens on no TCP port, so sign-ins
// that complete went through its socket; seeding (through the store)
// does too, and Redis's CPU is read locally.
func TestBenchRedisUnix(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed")
	}
	rep := runBenchJSON(t, "--store", "redis", "--redis-unix", "--guests", "20", "--scenario", "signin")
	checkResults(t, rep, []string{"signin"}, true)
	if rep.Params.Store != "redis (unix socket)" {
		t.Errorf("store %q", rep.Params.Store)
	}
}

// --redis with a unix:// URL: an existing Redis reached over its socket.
func TestBenchRedisUnixURL(t *testing.T) {
	srv := redistest.StartUnix(t)
	rep := runBenchJSON(t, "--redis", "unix://"+srv.Addr+"?db=3", "--scenario", "signin")
	checkResults(t, rep, []string{"signin"}, true)
	// The sign-ins went to the database the URL names, and only there.
	for db, want := range map[int]bool{3: true, 0: false} {
		c := redis.NewClient(&redis.Options{Network: "unix", Addr: srv.Addr, DB: db})
		n, err := c.DBSize(context.Background()).Result()
		_ = c.Close()
		if err != nil || (n > 0) != want {
			t.Errorf("db %d holds %d keys (%v); want keys: %v", db, n, err, want)
		}
	}
}

// The config the bench generates is one guestpass accepts (not in dev
// mode), with the abuse limits lifted and the log quiet. It is checked
// here because only cmd/ and provider/server may read pkg/config.
func TestBenchConfigParses(t *testing.T) {
	var secrets [3]string
	var codeKey []byte
	for i, n := range []int{64, 32, 32} {
		codeKey = make([]byte, n)
		_, _ = rand.Read(codeKey)
		secrets[i] = base64.StdEncoding.EncodeToString(codeKey)
	}
	const cb = "http://127.0.0.1:9/callback"
	for _, st := range []loadgen.StoreConfig{
		{Type: "memory"},
		{Type: "redis", Addrs: []string{"127.0.0.1:7000", "127.0.0.1:7001"}, Password: "pa$$word", KeyPrefix: "bench-x:"},
		{Type: "redis", Addrs: []string{"/tmp/guestpass-bench-1/redis/redis.sock"}, Password: "pa$$word", KeyPrefix: "bench-x:"},
	} {
		c := loadgen.ServerConfig{BaseURL: "http://127.0.0.1:8080", Listen: "127.0.0.1:8080", MetricsListen: "127.0.0.1:9090",
			SMTPAddr: "127.0.0.1:2525", Store: st, Secrets: secrets, AdminSecret: "admin-secret",
			Tenants: []loadgen.Tenant{{ID: "bench-0", ClientID: "bench-app", ClientSecret: "s0", RedirectURI: cb},
				{ID: "bench-1", ClientID: "bench-app", ClientSecret: "s1", RedirectURI: cb}}}
		cfg, err := config.Parse([]byte(c.YAML()), "bench.yaml", func(string) (string, bool) { return "", false })
		if err != nil {
			t.Fatalf("%s:\n%s\n%v", st.Type, c.YAML(), err)
		}
		if cfg.Dev || cfg.Store.Type != st.Type || cfg.Log.Level != "warn" || len(cfg.Tenants) != 2 || !bytes.Equal(cfg.Secrets.Code, codeKey) {
			t.Fatalf("%s: parsed %+v", st.Type, cfg)
		}
		if st.Type == "redis" && (cfg.Store.Redis.Password != "pa$$word" || !slices.Equal(cfg.Store.Redis.Addrs, st.Addrs)) {
			t.Fatalf("redis block: %+v", cfg.Store.Redis)
		}
		otp := cfg.Tenant("bench-1").EmailOTP
		if otp.AbuseLimits.MaxCodesPerIPPerHour != 100000 || otp.ResendCooldown != 0 || cfg.Network.AuthorizePerIPPerMinute != 1000000 {
			t.Fatalf("limits not lifted: %+v %+v", otp, cfg.Network)
		}
	}
}

// Bad flags are refused before anything starts.
func TestBenchRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "--scenario", "signin,nope"},
		{"bench", "extra"},
		{"bench", "--pid", "x", "--target", "http://127.0.0.1:1"},
		{"bench", "--redis-unix"},
		{"bench", "--store", "cluster", "--redis-unix"},
		{"bench", "--store", "redis", "--redis-unix", "--redis", "redis://127.0.0.1:1"},
		{"bench", "--replicas", "2"},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), args, &out, &errb)
		if code == 0 || !strings.Contains(errb.String(), "guestpass bench:") || out.Len() != 0 {
			t.Errorf("%v: exit %d, stderr %q, stdout %q", args, code, errb.String(), out.String())
		}
	}
}
