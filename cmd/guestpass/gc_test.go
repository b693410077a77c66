package main

import (
	"runtime/debug"
	"testing"
)

// serve sets the collector's target with the Redis store unless GOGC is
// set, which still rules; the memory store keeps Go's default.
func TestTuneGC(t *testing.T) {
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)

	noEnv := func(string) string { return "" }
	tuneGC(noEnv, "redis")
	if got := debug.SetGCPercent(100); got != serveGCPercent {
		t.Errorf("GC percent with Redis, without GOGC = %d, want %d", got, serveGCPercent)
	}
	tuneGC(noEnv, "memory")
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GC percent with the memory store = %d, want Go's default (100)", got)
	}
	tuneGC(func(k string) string {
		if k == "GOGC" {
			return "50"
		}
		return ""
	}, "redis")
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GC percent with GOGC set = %d, want it left alone (100)", got)
	}
}
