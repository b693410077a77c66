package loadgen

import (
	"strings"
	"testing"
	"time"
)

func TestParseStatCPUCountsFieldsAfterTheCommandName(t *testing.T) {
	// A command name with spaces and a ')' must not shift the fields:
	// utime 250 and stime 50 ticks at 100 Hz are 3 s.
	line := "4242 (guest pass) x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 9 0 100 1000000 500 18446744073709551615\n"
	d, err := parseStatCPU([]byte(line), 100)
	if err != nil || d != 3*time.Second {
		t.Fatalf("cpu = %v, %v; want 3s", d, err)
	}
	if _, err := parseStatCPU([]byte("4242 (x) S 1 2"), 100); err == nil {
		t.Fatal("a short line was read")
	}
}

func TestParseVmRSS(t *testing.T) {
	status := "Name:\tguestpass\nVmPeak:\t  900000 kB\nVmRSS:\t   41236 kB\nThreads:\t9\n"
	n, err := parseVmRSS(strings.NewReader(status))
	if err != nil || n != 41236<<10 {
		t.Fatalf("rss = %d, %v", n, err)
	}
	if _, err := parseVmRSS(strings.NewReader("Name:\tx\n")); err == nil {
		t.Fatal("no VmRSS line, no error")
	}
}

func TestOwnReadings(t *testing.T) {
	// Burn a little CPU so that at least one tick is counted.
	ticks := clockTicks()
	before, err := procCPU("self", ticks)
	if err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(50 * time.Millisecond); time.Now().Before(end); {
	}
	after, err := procCPU("self", ticks)
	if err != nil || after <= before {
		t.Fatalf("cpu %v → %v, %v", before, after, err)
	}
	if rss, err := procRSS("self"); err != nil || rss < 1<<20 {
		t.Fatalf("rss %d, %v", rss, err)
	}
}
