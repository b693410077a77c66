package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/guestpass/guestpass/pkg/loadgen"
)

const benchUsage = `usage: guestpass bench [flags]

Drives complete passcode sign-ins like browsers (codes read from an embedded
SMTP sink), refresh grants, discovery and userinfo against a guestpass it
starts (or --target), and reports ops/s, latency and CPU per operation of
guestpass, Redis and the tool itself.

`

// benchFlags are the bench command's flags.
type benchFlags struct {
	store, redisURL, scenarios, target, pids, smtpListen string
	replicas, tenants, guests, concurrency               int
	duration, warmup                                     time.Duration
	rate                                                 float64
	asJSON, keep, redisUnix                              bool
	scenarioList                                         []string
	tenant                                               loadgen.Tenant
}

func parseBenchFlags(args []string, stderr io.Writer) (*benchFlags, error) {
	f := &benchFlags{}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, benchUsage)
		fs.PrintDefaults()
	}
	fs.StringVar(&f.store, "store", "memory", "store of the guestpass it starts: memory, redis (private redis-server with AOF) or cluster (private 3-master Redis Cluster with AOF)")
	fs.StringVar(&f.redisURL, "redis", "", "an existing Redis (redis://host:port/db, or unix:///path/redis.sock?db=N for its socket) instead of a private one")
	fs.BoolVar(&f.redisUnix, "redis-unix", false, "with --store redis: the private Redis listens on a unix socket instead of a TCP port, and guestpass dials it there")
	fs.IntVar(&f.replicas, "replicas", 1, "guestpass processes on the same store (redis or cluster); each request goes to the next one in turn")
	fs.IntVar(&f.tenants, "tenants", 1, "tenants in the generated config (bench-0, bench-1, ...)")
	fs.IntVar(&f.guests, "guests", 0, "invite this many guests first; sign-ins then use their addresses in turn instead of fresh self-service ones")
	fs.StringVar(&f.scenarios, "scenario", strings.Join(loadgen.Scenarios(), ","), "scenarios to run one after the other")
	fs.DurationVar(&f.duration, "duration", 10*time.Second, "measured time of each scenario")
	fs.DurationVar(&f.warmup, "warmup", 2*time.Second, "warm-up before each scenario's measured time (not counted)")
	fs.IntVar(&f.concurrency, "concurrency", 16, "concurrent browsers")
	fs.Float64Var(&f.rate, "rate", 0, "open loop: start this many operations per second in all (0: each browser starts its next operation at once)")
	fs.BoolVar(&f.asJSON, "json", false, "print one JSON document instead of a table")
	fs.BoolVar(&f.keep, "keep", false, "keep the directory of configs, logs and Redis data, and print its path")
	fs.StringVar(&f.target, "target", "", "base URL of a running guestpass to measure instead of starting one")
	fs.StringVar(&f.pids, "pid", "", "with --target: comma-separated PIDs of its processes, for CPU and RSS readings")
	fs.StringVar(&f.tenant.ID, "tenant", "", "with --target: tenant id")
	fs.StringVar(&f.tenant.ClientID, "client-id", "", "with --target: a confidential client of the tenant")
	fs.StringVar(&f.tenant.ClientSecret, "client-secret", "", "with --target: its secret (default $GUESTPASS_CLIENT_SECRET, which other users cannot read in the process list)")
	fs.StringVar(&f.tenant.RedirectURI, "redirect-uri", "", "with --target: one of its redirect URIs (nothing needs to listen there)")
	fs.StringVar(&f.smtpListen, "smtp-listen", "127.0.0.1:2525", "with --target: where the SMTP sink listens (that server's mail.smtp.addr, tls: none)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	for _, s := range strings.Split(f.scenarios, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !slices.Contains(loadgen.Scenarios(), s) {
			err := fmt.Errorf("--scenario %q: want some of %s", s, strings.Join(loadgen.Scenarios(), ","))
			fmt.Fprintln(stderr, "guestpass bench:", err)
			return nil, err
		}
		f.scenarioList = append(f.scenarioList, s)
	}
	if f.tenant.ClientSecret == "" {
		f.tenant.ClientSecret = os.Getenv("GUESTPASS_CLIENT_SECRET")
	}
	var err error
	switch {
	case fs.NArg() != 0:
		err = fmt.Errorf("unexpected argument %q", fs.Arg(0))
	default:
		// The combinations loadgen cannot serve, refused before anything starts.
		err = loadgen.TargetOptions{Store: f.store, RedisURL: f.redisURL, RedisUnix: f.redisUnix,
			Replicas: f.replicas, Target: f.target}.Check()
	}
	if err != nil {
		fmt.Fprintln(stderr, "guestpass bench:", err)
		return nil, err
	}
	return f, nil
}

// pidList parses --pid.
func pidList(s string) ([]int, error) {
	var out []int
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("--pid %q is not a process id", p)
		}
		out = append(out, n)
	}
	return out, nil
}

func bench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f, err := parseBenchFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2 // parseBenchFlags said why
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := runBench(ctx, f, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "guestpass bench:", err)
		return 1
	}
	return 0
}

func runBench(ctx context.Context, f *benchFlags, stdout, stderr io.Writer) error {
	pids, err := pidList(f.pids)
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find my own binary: %w", err)
	}
	t, err := loadgen.StartTarget(ctx, loadgen.TargetOptions{Store: f.store, RedisURL: f.redisURL, RedisUnix: f.redisUnix, Replicas: f.replicas,
		Tenants: f.tenants, Executable: exe, Target: f.target, PIDs: pids, Tenant: f.tenant, SMTPListen: f.smtpListen})
	if err != nil {
		return err
	}
	defer func() {
		t.Close()
		if f.keep {
			fmt.Fprintln(stderr, "configs, logs and data kept in", t.Dir)
		} else {
			_ = os.RemoveAll(t.Dir)
		}
	}()
	o := loadgen.RunOptions{Duration: f.duration, Warmup: f.warmup, Concurrency: f.concurrency, Rate: f.rate, Progress: stderr}
	if f.guests > 0 {
		start := time.Now()
		if o.Guests, err = t.SeedGuests(ctx, f.guests); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "invited %d guests in %v\n", f.guests, time.Since(start).Round(time.Millisecond))
	}
	o.Scenarios = f.scenarioList
	results, runErr := loadgen.Run(ctx, t, o)
	if len(results) == 0 {
		return runErr
	}
	store := f.store
	if f.redisURL != "" {
		store = "redis (" + redactedURL(f.redisURL) + ")"
	}
	if f.redisUnix {
		store = "redis (unix socket)"
	}
	rep := loadgen.Report{Params: loadgen.Params{Target: t.BaseURL, Store: store, Replicas: len(t.Replicas), Tenants: len(t.Tenants),
		Guests: f.guests, Concurrency: f.concurrency, Rate: f.rate, Duration: f.duration.String(), Warmup: f.warmup.String(),
		CPUs: runtime.NumCPU()}, Results: results}
	if f.target != "" {
		rep.Params.Store = "unknown (--target)"
	}
	// The scenarios done before an error (or Ctrl-C) are still reported.
	if f.asJSON {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteText(stdout)
	}
	return errors.Join(runErr, err)
}

// redactedURL hides a URL's password: the report is meant to be shared.
func redactedURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
