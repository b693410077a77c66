package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Params are a run's parameters, reported with its results.
type Params struct {
	Target      string  `json:"target"`
	Store       string  `json:"store"`
	Replicas    int     `json:"replicas"`
	Tenants     int     `json:"tenants"`
	Guests      int     `json:"guests"`
	Concurrency int     `json:"concurrency"`
	Rate        float64 `json:"rate,omitempty"`
	Duration    string  `json:"duration"`
	Warmup      string  `json:"warmup"`
	CPUs        int     `json:"cpus"`
}

// Result is one scenario's figures over its measured window: the
// operations that ended inside it, and the CPU used during it.
type Result struct {
	Scenario string  `json:"scenario"`
	Ops      int64   `json:"ops"`
	Errors   int64   `json:"errors"`
	Seconds  float64 `json:"seconds"`
	OpsPerS  float64 `json:"opsPerSecond"`
	// Latency of a whole operation, in milliseconds (open loop: from its
	// scheduled start, so a server that falls behind shows it).
	P50Ms float64 `json:"p50Ms"`
	P90Ms float64 `json:"p90Ms"`
	P99Ms float64 `json:"p99Ms"`
	MaxMs float64 `json:"maxMs"`
	// CPU per successful operation, in milliseconds; absent when not
	// readable (no --pid, no Redis).
	ServerCPUMsPerOp *float64 `json:"guestpassCpuMsPerOp,omitempty"`
	RedisCPUMsPerOp  *float64 `json:"redisCpuMsPerOp,omitempty"`
	ToolCPUMsPerOp   float64  `json:"toolCpuMsPerOp"`
	// Cores each side kept busy on average over the window.
	ServerCores *float64 `json:"guestpassCores,omitempty"`
	RedisCores  *float64 `json:"redisCores,omitempty"`
	ToolCores   float64  `json:"toolCores"`
	// Resident memory of the guestpass processes (sum), start and end
	// of the scenario, in MiB.
	ServerRSSStartMiB *float64 `json:"guestpassRssStartMiB,omitempty"`
	ServerRSSEndMiB   *float64 `json:"guestpassRssEndMiB,omitempty"`
	// ServerRSSMaxMiB is the largest of the readings taken every second.
	ServerRSSMaxMiB *float64 `json:"guestpassRssMaxMiB,omitempty"`
	// ErrorKinds counts errors by the step that failed ("lost code": no
	// mail within 10 s); ErrorSamples are the first few, in full.
	ErrorKinds   map[string]int64 `json:"errorKinds,omitempty"`
	ErrorSamples []string         `json:"errorSamples,omitempty"`
	// Mails the sink received during the scenario (warm-up included).
	Mails int `json:"mails"`
	// RequestsPerReplica counts the HTTP requests each replica was sent
	// in the window (with more than one).
	RequestsPerReplica []int64 `json:"requestsPerReplica,omitempty"`
}

// Report is what a run prints.
type Report struct {
	Params  Params   `json:"params"`
	Results []Result `json:"results"`
}

// percentile of sorted durations (nearest rank), in milliseconds.
func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.5) - 1
	i = min(max(i, 0), len(sorted)-1)
	return ms(sorted[i])
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func ptr(f float64) *float64 { return &f }

// summarize turns a window's raw figures into a Result.
func summarize(name string, lat []time.Duration, errs map[string]int64, samples []string, window time.Duration, before, after Reading, maxRSS int64) Result {
	slices.Sort(lat)
	r := Result{Scenario: name, Ops: int64(len(lat)), Seconds: window.Seconds(), ErrorKinds: errs, ErrorSamples: samples}
	for _, n := range errs {
		r.Errors += n
	}
	if len(errs) == 0 {
		r.ErrorKinds = nil
	}
	r.OpsPerS = float64(r.Ops) / window.Seconds()
	r.P50Ms, r.P90Ms, r.P99Ms = percentile(lat, .50), percentile(lat, .90), percentile(lat, .99)
	if len(lat) > 0 {
		r.MaxMs = ms(lat[len(lat)-1])
	}
	perOp := func(d time.Duration) float64 {
		if r.Ops == 0 {
			return 0
		}
		return ms(d) / float64(r.Ops)
	}
	cores := func(d time.Duration) float64 { return d.Seconds() / window.Seconds() }
	if after.ServerKnown {
		r.ServerCPUMsPerOp = ptr(perOp(after.Server - before.Server))
		r.ServerCores = ptr(cores(after.Server - before.Server))
		r.ServerRSSStartMiB = ptr(float64(before.ServerRSS) / (1 << 20))
		r.ServerRSSEndMiB = ptr(float64(after.ServerRSS) / (1 << 20))
		r.ServerRSSMaxMiB = ptr(float64(max(maxRSS, before.ServerRSS, after.ServerRSS)) / (1 << 20))
	}
	if after.RedisKnown {
		r.RedisCPUMsPerOp = ptr(perOp(after.Redis - before.Redis))
		r.RedisCores = ptr(cores(after.Redis - before.Redis))
	}
	r.ToolCPUMsPerOp = perOp(after.Tool - before.Tool)
	r.ToolCores = cores(after.Tool - before.Tool)
	return r
}

// WriteJSON prints the report as one JSON document.
func (rep Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// WriteText prints the report as a table, then the errors' samples.
func (rep Report) WriteText(w io.Writer) error {
	p := rep.Params
	fmt.Fprintf(w, "target %s  store %s  replicas %d  tenants %d  guests %d  concurrency %d", p.Target, p.Store, p.Replicas, p.Tenants, p.Guests, p.Concurrency)
	if p.Rate > 0 {
		fmt.Fprintf(w, "  rate %g/s", p.Rate)
	}
	fmt.Fprintf(w, "  duration %s (+%s warm-up)  cpus %d\n\n", p.Duration, p.Warmup, p.CPUs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tops\terrors\tops/s\tp50 ms\tp90 ms\tp99 ms\tguestpass cpu ms/op\tredis cpu ms/op\ttool cpu ms/op\tguestpass rss MiB\t")
	opt := func(f *float64, format string) string {
		if f == nil {
			return "-"
		}
		return fmt.Sprintf(format, *f)
	}
	for _, r := range rep.Results {
		rss := "-"
		if r.ServerRSSStartMiB != nil {
			rss = fmt.Sprintf("%.0f→%.0f (max %.0f)", *r.ServerRSSStartMiB, *r.ServerRSSEndMiB, *r.ServerRSSMaxMiB)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%.2f\t%.2f\t%.2f\t%s\t%s\t%.3f\t%s\t\n", r.Scenario, r.Ops, r.Errors, r.OpsPerS,
			r.P50Ms, r.P90Ms, r.P99Ms, opt(r.ServerCPUMsPerOp, "%.3f"), opt(r.RedisCPUMsPerOp, "%.3f"), r.ToolCPUMsPerOp, rss)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range rep.Results {
		if r.Errors == 0 {
			continue
		}
		kinds := make([]string, 0, len(r.ErrorKinds))
		for k, n := range r.ErrorKinds {
			kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
		}
		slices.Sort(kinds)
		fmt.Fprintf(w, "\n%s errors: %s\n", r.Scenario, strings.Join(kinds, ", "))
		for _, s := range r.ErrorSamples {
			fmt.Fprintf(w, "  %s\n", s)
		}
	}
	return nil
}
