package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/guestpass/guestpass/pkg/canon"
	"github.com/guestpass/guestpass/pkg/proctest"
	"github.com/guestpass/guestpass/pkg/redisproc"
	"github.com/guestpass/guestpass/pkg/store/redisstore"
)

// startTimeout bounds how long a started guestpass may take to answer,
// but for its tenants (serverStartTimeout): as long as a redis-server's
// own start may take (redisproc, which also bounds a Cluster's forming).
const startTimeout = redisproc.StartTimeout

// startPerTenant is how much longer a started guestpass may take to
// answer for each tenant of its config: it builds every tenant before it
// listens. A thousand took 1.5 s on a loaded 2-core host; this leaves a
// slow host ten times that, so --tenants 1000 does not fail there for
// want of patience.
const startPerTenant = 20 * time.Millisecond

// serverStartTimeout bounds how long a started guestpass with tenants
// tenants may take to answer.
func serverStartTimeout(tenants int) time.Duration {
	return startTimeout + time.Duration(tenants)*startPerTenant
}

// TargetOptions say what to measure: a guestpass the tool starts (the
// default) or one already running (Target).
type TargetOptions struct {
	// Store is memory, redis (a private redis-server with AOF) or cluster
	// (a private three-master Redis Cluster with AOF).
	Store string
	// RedisURL, when set, is an existing Redis used instead of a private
	// one (and, with Target, the Redis whose CPU is read); a unix://
	// URL reaches it over its socket.
	RedisURL string
	// RedisUnix makes the private single-node Redis (Store redis) listen
	// on a unix socket instead of a TCP port, and guestpass dial it there.
	RedisUnix bool
	// Replicas is the number of guestpass processes on one store.
	Replicas int
	// Tenants is the number of generated tenants (bench-0, ...).
	Tenants int
	// Executable is the guestpass binary started as `serve`.
	Executable string
	// Dir holds configs, logs and Redis data; "" makes a temp dir.
	Dir string

	// Target is the base URL of a running guestpass; then PIDs name its
	// processes (for CPU readings), Tenant the tenant and client to sign
	// in with, and SMTPListen where the tool's SMTP sink listens (that
	// server's mail.smtp.addr).
	Target     string
	PIDs       []int
	Tenant     Tenant
	SMTPListen string
}

// Target is the guestpass being measured.
type Target struct {
	// BaseURL is the guestpass baseURL (issuers are BaseURL/tenant).
	BaseURL string
	// Replicas are the host:port of each process serving BaseURL.
	Replicas []string
	Tenants  []Tenant
	Sink     *Sink
	// Dir holds the generated configs, the logs and Redis's data.
	Dir string
	// Started is true when the tool started guestpass (and may seed).
	Started bool

	store      StoreConfig
	codeKey    []byte
	adminPass  string
	serverPIDs []string
	redis      []*redisNode
	redisProcs []*redisproc.Server
	procs      []*proctest.Proc
	ticks      int64
}

// Check refuses combinations of options that cannot be served: a private
// Redis on a unix socket for anything but the private single node, and
// several replicas without a store they can share. The bench command
// calls it on its flags; StartTarget calls it again.
func (o TargetOptions) Check() error {
	switch {
	case o.RedisUnix && (o.Store != "redis" || o.RedisURL != "" || o.Target != ""):
		return errors.New("--redis-unix is for the private single-node Redis: use it with --store redis, without --redis or --target (give --redis a unix:// URL for an existing socket)")
	case o.Replicas > 1 && o.Store == "memory" && o.RedisURL == "" && o.Target == "":
		return errors.New("--replicas needs a shared store: --store redis or cluster")
	}
	return nil
}

// StartTarget starts (or connects to) what o describes, once o.Check
// accepts it. On an error it stops everything it started and removes the
// directory it made (the error quotes the end of the log that says why).
func StartTarget(ctx context.Context, o TargetOptions) (t *Target, err error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	t = &Target{ticks: clockTicks(), Dir: o.Dir}
	defer func() {
		if err != nil {
			t.Close()
			if o.Dir == "" && t.Dir != "" {
				_ = os.RemoveAll(t.Dir)
			}
			t = nil
		}
	}()
	if t.Dir == "" {
		if t.Dir, err = os.MkdirTemp("", "guestpass-bench-"); err != nil {
			return t, err
		}
	}
	if o.Target != "" {
		return t, t.connect(ctx, o)
	}
	if o.Replicas < 1 {
		o.Replicas = 1
	}
	if o.Tenants < 1 {
		o.Tenants = 1
	}
	if t.Sink, err = StartSink("127.0.0.1:0"); err != nil {
		return t, err
	}
	if err = t.startStore(ctx, o); err != nil {
		return t, err
	}
	return t, t.startServers(ctx, o)
}

// connect uses a running guestpass.
func (t *Target) connect(ctx context.Context, o TargetOptions) error {
	u, err := url.Parse(o.Target)
	if err != nil || u.Host == "" {
		return fmt.Errorf("--target %q is not a URL", o.Target)
	}
	if o.Tenant.ID == "" || o.Tenant.ClientID == "" || o.Tenant.RedirectURI == "" {
		return errors.New("--target needs --tenant, --client-id, --client-secret and --redirect-uri")
	}
	t.BaseURL = strings.TrimRight(o.Target, "/")
	t.Replicas = []string{u.Host}
	t.Tenants = []Tenant{o.Tenant}
	for _, p := range o.PIDs {
		t.serverPIDs = append(t.serverPIDs, strconv.Itoa(p))
	}
	listen := o.SMTPListen
	if listen == "" {
		listen = "127.0.0.1:2525"
	}
	if t.Sink, err = StartSink(listen); err != nil {
		return err
	}
	if o.RedisURL != "" {
		if _, err := t.connectRedis(ctx, o.RedisURL); err != nil {
			return err
		}
	}
	return nil
}

// connectRedis reads an existing Redis's CPU from now on (--redis).
func (t *Target) connectRedis(ctx context.Context, url string) (*redis.Options, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("--redis: %w", err)
	}
	n, err := newRedisNode(ctx, opts)
	if err != nil {
		return nil, err
	}
	t.redis = append(t.redis, n)
	return opts, nil
}

// startStore starts or connects the store the servers will share.
func (t *Target) startStore(ctx context.Context, o TargetOptions) error {
	prefix := "bench-" + random()[:8] + ":"
	switch {
	case o.RedisURL != "":
		opts, err := t.connectRedis(ctx, o.RedisURL)
		if err != nil {
			return err
		}
		// A fresh key prefix: an existing Redis may hold other runs' data.
		t.store = StoreConfig{Type: "redis", Addrs: []string{opts.Addr}, Username: opts.Username,
			Password: opts.Password, DB: opts.DB, KeyPrefix: prefix}
	case o.Store == "memory" || o.Store == "":
		t.store = StoreConfig{Type: "memory"}
	case o.Store == "redis":
		n, err := t.startRedis(ctx, "redis", o.RedisUnix, "--appendonly", "yes", "--appendfsync", "everysec")
		if err != nil {
			return err
		}
		t.store = StoreConfig{Type: "redis", Addrs: []string{n.addr}, KeyPrefix: prefix}
	case o.Store == "cluster":
		var addrs []string
		for i := range 3 {
			name := fmt.Sprintf("cluster-%d", i)
			args := append(redisproc.ClusterArgs(), "--appendonly", "yes", "--appendfsync", "everysec")
			n, err := t.startRedis(ctx, name, false, args...)
			if err != nil {
				return err
			}
			addrs = append(addrs, n.addr)
		}
		if err := redisproc.FormCluster(ctx, addrs); err != nil {
			return err
		}
		t.store = StoreConfig{Type: "redis", Addrs: addrs, KeyPrefix: prefix}
	default:
		return fmt.Errorf("--store %q: want memory, redis or cluster", o.Store)
	}
	return nil
}

// startRedis starts a private redis-server on a free port (or, if unix,
// on a socket in its directory and no port) with its data and its log,
// redis.log, in its own directory under t.Dir.
func (t *Target) startRedis(ctx context.Context, name string, unix bool, args ...string) (*redisNode, error) {
	o := redisproc.Options{Dir: filepath.Join(t.Dir, name), Args: append([]string{"--save", ""}, args...)}
	if unix {
		o.Unix = filepath.Join(o.Dir, "redis.sock")
	}
	srv, err := redisproc.Start(ctx, o)
	if err != nil {
		return nil, err
	}
	t.redisProcs = append(t.redisProcs, srv)
	n, err := newRedisNode(ctx, &redis.Options{Addr: srv.Addr})
	if err != nil {
		return nil, err
	}
	t.redis = append(t.redis, n)
	return n, nil
}

// startServers writes one config per replica (same baseURL, store and
// secrets; own listen and metrics addresses) and starts each as a child
// process, so that its CPU is its own.
func (t *Target) startServers(ctx context.Context, o TargetOptions) error {
	secrets, codeKey, err := newSecrets()
	if err != nil {
		return err
	}
	t.codeKey, t.adminPass = codeKey, random()
	for i := range o.Tenants {
		t.Tenants = append(t.Tenants, Tenant{ID: fmt.Sprintf("bench-%d", i), ClientID: "bench-app",
			ClientSecret: random(), RedirectURI: redirectURI})
	}
	ports, err := proctest.FreePorts(2 * o.Replicas)
	if err != nil {
		return err
	}
	for i := range o.Replicas {
		t.Replicas = append(t.Replicas, net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[2*i])))
	}
	t.BaseURL = "http://" + t.Replicas[0]
	t.Started = true
	for i, addr := range t.Replicas {
		c := ServerConfig{BaseURL: t.BaseURL, Listen: addr, SMTPAddr: t.Sink.Addr, Store: t.store, Secrets: secrets,
			Tenants: t.Tenants, AdminSecret: t.adminPass,
			MetricsListen: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[2*i+1]))}
		path := filepath.Join(t.Dir, fmt.Sprintf("guestpass-%d.yaml", i))
		if err := os.WriteFile(path, []byte(c.YAML()), 0o600); err != nil {
			return err
		}
		logPath := filepath.Join(t.Dir, fmt.Sprintf("guestpass-%d.log", i))
		if err := t.startServer(ctx, o.Executable, path, addr, logPath, serverStartTimeout(o.Tenants)); err != nil {
			return err
		}
	}
	return nil
}

// startServer starts one guestpass and waits at most timeout for it to
// answer /healthz.
func (t *Target) startServer(ctx context.Context, exe, config, addr, logPath string, timeout time.Duration) error {
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(exe, "serve", "--config", config)
	cmd.Stdout, cmd.Stderr = logf, logf
	p, err := proctest.Start(cmd)
	if err != nil {
		return fmt.Errorf("start %s serve: %w", exe, err)
	}
	t.procs = append(t.procs, p)
	t.serverPIDs = append(t.serverPIDs, strconv.Itoa(p.Pid()))
	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for {
		resp, err := hc.Get("http://" + addr + "/healthz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.Exited():
			return fmt.Errorf("guestpass exited at start: %s", tail(logPath))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("guestpass at %s did not answer within %v: %s", addr, timeout, tail(logPath))
		}
	}
}

// tail is the end of a log file, for an error message.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return path + ":\n" + string(b)
}

// Close stops every process the tool started and closes the sink. The
// directory stays (see Dir).
func (t *Target) Close() {
	for _, n := range t.redis {
		_ = n.c.Close()
	}
	// The servers first: they use the Redis.
	for i := len(t.procs) - 1; i >= 0; i-- {
		t.procs[i].Kill()
	}
	for i := len(t.redisProcs) - 1; i >= 0; i-- {
		t.redisProcs[i].Stop()
	}
	if t.Sink != nil {
		_ = t.Sink.Close()
	}
}

// redisNode is one Redis server whose CPU is read: from /proc when it
// runs on this machine, else from INFO cpu.
type redisNode struct {
	addr string
	c    *redis.Client
	pid  string // "" when not local
}

func newRedisNode(ctx context.Context, opts *redis.Options) (*redisNode, error) {
	c := redis.NewClient(opts)
	n := &redisNode{addr: opts.Addr, c: c}
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("redis %s: %w", opts.Addr, err)
	}
	// A socket is on this machine by nature.
	host, _, _ := net.SplitHostPort(opts.Addr)
	if canon.LoopbackHost(host) || strings.HasPrefix(opts.Addr, "/") {
		if pid := redisstore.InfoField(info, "process_id"); pid != "" {
			if _, err := os.Stat("/proc/" + pid + "/stat"); err == nil {
				n.pid = pid
			}
		}
	}
	return n, nil
}

func (n *redisNode) cpu(ctx context.Context, ticks int64) (time.Duration, error) {
	if n.pid != "" {
		return procCPU(n.pid, ticks)
	}
	info, err := n.c.Info(ctx, "cpu").Result()
	if err != nil {
		return 0, fmt.Errorf("redis %s: %w", n.addr, err)
	}
	var sum float64
	for _, f := range []string{"used_cpu_sys", "used_cpu_user"} {
		v, err := strconv.ParseFloat(redisstore.InfoField(info, f), 64)
		if err != nil {
			return 0, fmt.Errorf("redis %s INFO %s: %w", n.addr, f, err)
		}
		sum += v
	}
	return time.Duration(sum * float64(time.Second)), nil
}

// Reading is the CPU used so far by each side of the measurement.
type Reading struct {
	Server, Redis, Tool time.Duration
	// ServerRSS is the sum of the guestpass processes' VmRSS, in bytes.
	ServerRSS int64
	// Known says which readings exist (no PIDs given: no server CPU).
	ServerKnown, RedisKnown bool
}

// ServerRSS is the sum of the guestpass processes' VmRSS, in bytes.
func (t *Target) ServerRSS() (int64, error) {
	var sum int64
	for _, pid := range t.serverPIDs {
		rss, err := procRSS(pid)
		if err != nil {
			return 0, err
		}
		sum += rss
	}
	return sum, nil
}

// Read takes a reading of CPU and RSS.
func (t *Target) Read(ctx context.Context) (Reading, error) {
	var r Reading
	var err error
	for _, pid := range t.serverPIDs {
		c, err := procCPU(pid, t.ticks)
		if err != nil {
			return r, err
		}
		r.Server += c
		r.ServerKnown = true
	}
	if r.ServerRSS, err = t.ServerRSS(); err != nil {
		return r, err
	}
	for _, n := range t.redis {
		c, err := n.cpu(ctx, t.ticks)
		if err != nil {
			return r, err
		}
		r.Redis += c
		r.RedisKnown = true
	}
	r.Tool, err = procCPU("self", t.ticks)
	return r, err
}
