package loadgen

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	var lat []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	before := Reading{Server: time.Second, Redis: 2 * time.Second, Tool: 3 * time.Second, ServerRSS: 30 << 20, ServerKnown: true, RedisKnown: true}
	after := Reading{Server: 1500 * time.Millisecond, Redis: 2100 * time.Millisecond, Tool: 3200 * time.Millisecond, ServerRSS: 32 << 20, ServerKnown: true, RedisKnown: true}
	r := summarize("signin", lat, map[string]int64{"lost code": 2, "verify": 1}, []string{"mail: lost code"}, 2*time.Second, before, after, 40<<20)
	if r.Ops != 100 || r.Errors != 3 || r.OpsPerS != 50 || r.P50Ms != 50 || r.P90Ms != 90 || r.P99Ms != 99 || r.MaxMs != 100 {
		t.Fatalf("%+v", r)
	}
	if *r.ServerCPUMsPerOp != 5 || *r.RedisCPUMsPerOp != 1 || r.ToolCPUMsPerOp != 2 || *r.ServerCores != .25 || *r.ServerRSSEndMiB != 32 {
		t.Fatalf("cpu: %v %v %v %v %v", *r.ServerCPUMsPerOp, *r.RedisCPUMsPerOp, r.ToolCPUMsPerOp, *r.ServerCores, *r.ServerRSSEndMiB)
	}
	rep := Report{Params: Params{Store: "redis", Concurrency: 16}, Results: []Result{r}}
	var text, js bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"signin", "5.000", "30→32 (max 40)", "signin errors: lost code 2, verify 1", "mail: lost code"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Results[0].ErrorKinds["lost code"] != 2 || *back.Results[0].RedisCPUMsPerOp != 1 {
		t.Fatalf("json: %v\n%s", err, js.String())
	}

	// Unknown readings stay absent rather than reading as zero.
	r = summarize("discovery", lat, map[string]int64{}, nil, time.Second, Reading{}, Reading{}, 0)
	if r.ServerCPUMsPerOp != nil || r.RedisCPUMsPerOp != nil || r.ErrorKinds != nil {
		t.Fatalf("%+v", r)
	}
}

func TestPageForm(t *testing.T) {
	p := Page{URL: "http://127.0.0.1:8080/bench-0/login?authRequestID=x", Body: `<form method="post" action="/bench-0/login/send?x=1&amp;y=2">` +
		`<input type="hidden" name="csrf" value="a&#43;b"></form>`}
	action, csrf, err := p.form(0)
	if err != nil || action != "http://127.0.0.1:8080/bench-0/login/send?x=1&y=2" || csrf != "a+b" {
		t.Fatalf("%q %q %v", action, csrf, err)
	}
	if _, _, err := p.form(1); err == nil {
		t.Fatal("a second form was found")
	}
}
