package loadgen

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Scenarios returns the operations the tool can drive, in their default
// order.
func Scenarios() []string { return []string{"signin", "refresh", "discovery", "userinfo"} }

// RunOptions shape the load.
type RunOptions struct {
	Scenarios   []string
	Duration    time.Duration
	Warmup      time.Duration
	Concurrency int
	// Rate, when > 0, starts Rate operations per second in all (open
	// loop) instead of each browser starting its next one at once.
	Rate float64
	// Guests, when set, are the addresses sign-ins use in turn (invited
	// guests), instead of a fresh self-service address each time.
	Guests []Guest
	// Progress receives a line per phase (nil: none).
	Progress io.Writer
}

// Guest is an invited guest's address and tenant (index in Target.Tenants).
type Guest struct {
	Email  string
	Tenant int
}

// maxSamples is how many errors a scenario keeps in full.
const maxSamples = 5

// runner drives one target.
type runner struct {
	t     *Target
	o     RunOptions
	rps   []*relyingParty
	runID string
	n     atomic.Uint64  // sign-ins started: picks the address and tenant
	sent  []atomic.Int64 // requests per replica
	busy  sync.Map       // guests' addresses being signed in
}

// worker is one browser with its own connections (and, on a loopback
// target, its own source address).
type worker struct {
	b      *browser
	hc     *http.Client // the app's calls: token, userinfo, discovery
	tenant int
	tokens Tokens
}

// Run runs each scenario in turn and returns their results.
func Run(ctx context.Context, t *Target, o RunOptions) ([]Result, error) {
	if o.Concurrency < 1 {
		o.Concurrency = 1
	}
	if len(o.Guests) > 0 && len(o.Guests) <= o.Concurrency {
		return nil, fmt.Errorf("%d guests for %d browsers: each browser needs a guest of its own, and more to go round", len(o.Guests), o.Concurrency)
	}
	r := &runner{t: t, o: o, runID: random()[:6], sent: make([]atomic.Int64, len(t.Replicas))}
	setup := &http.Client{Timeout: requestTimeout, Transport: &spread{next: newTransport(nil), replicas: t.Replicas}}
	for _, tn := range t.Tenants {
		rp, err := newRelyingParty(ctx, setup, t.BaseURL+"/"+tn.ID, tn)
		if err != nil {
			return nil, err
		}
		r.rps = append(r.rps, rp)
	}
	workers := r.workers()
	var out []Result
	for _, s := range o.Scenarios {
		res, err := r.scenario(ctx, s, workers)
		if err != nil {
			return out, fmt.Errorf("%s: %w", s, err)
		}
		out = append(out, res)
		if err := ctx.Err(); err != nil {
			return out, fmt.Errorf("stopped during %s: %w", s, err)
		}
	}
	return out, nil
}

func (r *runner) progress(format string, args ...any) {
	if r.o.Progress != nil {
		fmt.Fprintf(r.o.Progress, format+"\n", args...)
	}
}

// workers makes the browsers. On a loopback target each gets its own
// source address 127.0.0.(2+i), so that the limits per client IP count
// many guests' machines, not one.
func (r *runner) workers() []*worker {
	u, _ := url.Parse(r.t.BaseURL)
	ip := net.ParseIP(u.Hostname())
	loop := ip != nil && ip.To4() != nil && ip.IsLoopback()
	ws := make([]*worker, r.o.Concurrency)
	for i := range ws {
		var local net.IP
		if loop {
			local = net.IPv4(127, 0, byte(i/250), byte(2+i%250))
		}
		rt := &spread{next: newTransport(local), replicas: r.t.Replicas, sent: r.sent}
		tenant := i % len(r.t.Tenants)
		ws[i] = &worker{b: newBrowser(rt, r.t.Tenants[tenant].RedirectURI), hc: &http.Client{Transport: rt, Timeout: requestTimeout},
			tenant: tenant}
	}
	return ws
}

// signIn does one complete sign-in for w, with the next address.
func (r *runner) signIn(ctx context.Context, w *worker) error {
	n := r.n.Add(1)
	var email string
	tenant := int(n % uint64(len(r.t.Tenants)))
	if len(r.o.Guests) > 0 {
		// The guests in turn, skipping one still signing in: the sink
		// tells codes apart by recipient only, so two browsers on one
		// guest could take each other's code, an error of the tool's
		// making, not the server's.
		for {
			g := r.o.Guests[n%uint64(len(r.o.Guests))]
			if _, busy := r.busy.LoadOrStore(g.Email, true); !busy {
				email, tenant = g.Email, g.Tenant
				defer r.busy.Delete(email)
				break
			}
			n = r.n.Add(1)
		}
	} else {
		email = fmt.Sprintf("b%s-%d@guest.example", r.runID, n)
	}
	rp := r.rps[tenant]
	w.b.stop = rp.t.RedirectURI
	tok, err := rp.signIn(ctx, w.b, w.hc, r.t.Sink, email)
	if err != nil {
		return err
	}
	w.tenant, w.tokens = tenant, tok
	return nil
}

// op returns the scenario's operation and whether each browser must be
// signed in first.
func (r *runner) op(name string) (func(context.Context, *worker) error, bool, error) {
	switch name {
	case "signin":
		return r.signIn, false, nil
	case "refresh":
		return func(ctx context.Context, w *worker) error {
			t, err := r.rps[w.tenant].refresh(ctx, w.hc, w.tokens)
			if err != nil {
				// The token may be spent (or its family revoked): sign
				// in again rather than fail every refresh after this one.
				t = Tokens{}
			}
			w.tokens = t
			return err
		}, true, nil
	case "discovery":
		return func(ctx context.Context, w *worker) error { return r.rps[w.tenant].discovery(ctx, w.hc) }, false, nil
	case "userinfo":
		return func(ctx context.Context, w *worker) error { return r.rps[w.tenant].userInfo(ctx, w.hc, w.tokens) }, true, nil
	}
	return nil, false, fmt.Errorf("unknown scenario %q (want %v)", name, Scenarios())
}

// tally is one worker's figures in the window.
type tally struct {
	lat  []time.Duration
	errs map[string]int64
}

// scenario runs one operation: warm-up, then the measured window between
// two readings; operations that end inside the window count.
func (r *runner) scenario(ctx context.Context, name string, ws []*worker) (Result, error) {
	op, needTokens, err := r.op(name)
	if err != nil {
		return Result{}, err
	}
	if needTokens {
		for _, w := range ws {
			if err := r.signIn(ctx, w); err != nil {
				return Result{}, fmt.Errorf("sign-in before the scenario: %w", err)
			}
		}
	}
	r.progress("%s: %v warm-up, %v measured, %d browsers", name, r.o.Warmup, r.o.Duration, len(ws))
	mails0, _ := r.t.Sink.Counts()
	ctx, cancel := context.WithCancel(ctx)
	var (
		windowStart, windowEnd atomic.Int64 // unix ns; 0 while unknown
		samplesMu              sync.Mutex
		samples                []string
		wg                     sync.WaitGroup
	)
	tallies := make([]tally, len(ws))
	record := func(i int, start, end time.Time, err error) {
		ws, we := windowStart.Load(), windowEnd.Load()
		if ws == 0 || end.UnixNano() < ws || (we != 0 && end.UnixNano() > we) {
			return
		}
		t := &tallies[i]
		if err != nil {
			if t.errs == nil {
				t.errs = map[string]int64{}
			}
			t.errs[Kind(err)]++
			samplesMu.Lock()
			if len(samples) < maxSamples {
				samples = append(samples, err.Error())
			}
			samplesMu.Unlock()
			return
		}
		t.lat = append(t.lat, end.Sub(start))
	}
	// Open loop: a pacer hands out scheduled start times.
	var starts chan time.Time
	if r.o.Rate > 0 {
		starts = make(chan time.Time, len(ws))
		go pace(ctx, r.o.Rate, starts)
	}
	for i, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if needTokens && w.tokens.Access == "" {
					// Not timed: the scenario measures the operation.
					if err := r.signIn(ctx, w); err != nil {
						if ctx.Err() != nil {
							return
						}
						record(i, time.Now(), time.Now(), fmt.Errorf("sign-in for tokens: %w", err))
						continue
					}
				}
				start := time.Now()
				if starts != nil {
					select {
					case start = <-starts:
					case <-ctx.Done():
						return
					}
				}
				err := op(ctx, w)
				if ctx.Err() != nil {
					return // cut off at the end: neither an op nor an error
				}
				record(i, start, time.Now(), err)
			}
		}()
	}
	stop := func() {
		cancel()
		wg.Wait()
	}
	sleep(ctx, r.o.Warmup)
	before, err := r.t.Read(ctx)
	if err != nil {
		stop()
		return Result{}, err
	}
	sent0 := r.sentCounts()
	t0 := time.Now()
	windowStart.Store(t0.UnixNano())
	maxRSS := r.watchRSS(ctx, r.o.Duration)
	after, err := r.t.Read(ctx)
	t1 := time.Now()
	windowEnd.Store(t1.UnixNano())
	sent1 := r.sentCounts()
	stop()
	if err != nil {
		return Result{}, err
	}
	var lat []time.Duration
	errs := map[string]int64{}
	for _, t := range tallies {
		lat = append(lat, t.lat...)
		for k, n := range t.errs {
			errs[k] += n
		}
	}
	res := summarize(name, lat, errs, samples, t1.Sub(t0), before, after, maxRSS)
	mails1, _ := r.t.Sink.Counts()
	res.Mails = mails1 - mails0
	if len(sent1) > 1 {
		for i := range sent1 {
			res.RequestsPerReplica = append(res.RequestsPerReplica, sent1[i]-sent0[i])
		}
	}
	return res, nil
}

// watchRSS waits d, reading the servers' RSS every second, and returns
// the largest reading: a leak shows as growth, a spike as a peak.
func (r *runner) watchRSS(ctx context.Context, d time.Duration) int64 {
	var peak int64
	end := time.Now().Add(d)
	for {
		left := time.Until(end)
		if left <= 0 || ctx.Err() != nil {
			return peak
		}
		sleep(ctx, min(left, time.Second))
		if rss, err := r.t.ServerRSS(); err == nil {
			peak = max(peak, rss)
		}
	}
}

func (r *runner) sentCounts() []int64 {
	out := make([]int64, len(r.sent))
	for i := range r.sent {
		out[i] = r.sent[i].Load()
	}
	return out
}

// pace sends the scheduled start of each operation, rate per second, until
// ctx ends. A start is sent when due even if no browser is free to take
// it: the wait then shows in the operation's latency.
func pace(ctx context.Context, rate float64, starts chan<- time.Time) {
	begin := time.Now()
	interval := time.Duration(float64(time.Second) / rate)
	for i := 0; ; i++ {
		due := begin.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			sleep(ctx, d)
		}
		select {
		case starts <- due:
		case <-ctx.Done():
			return
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
