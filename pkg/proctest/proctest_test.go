package proctest_test

import (
	"net"
	"os/exec"
	"strconv"
	"testing"

	"github.com/guestpass/guestpass/pkg/proctest"
)

// FreePorts gives distinct ports that a server can bind.
func TestFreePorts(t *testing.T) {
	ports, err := proctest.FreePorts(3)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if seen[p] {
			t.Fatalf("port %d twice in %v", p, ports)
		}
		seen[p] = true
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Fatalf("port %d not free: %v", p, err)
		}
		l.Close()
	}
}

// Kill returns only once the process is reaped (what a restart on the
// same ports relies on); a process that ends by itself closes Exited.
func TestKillWaitsForTheProcess(t *testing.T) {
	p, err := proctest.Start(exec.Command("sleep", "600"))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Exited():
		t.Fatal("exited before it was killed")
	default:
	}
	p.Kill()
	select {
	case <-p.Exited():
	default:
		t.Fatal("Kill returned before the process was reaped")
	}
	(*proctest.Proc)(nil).Kill() // a stopped server: nothing to do

	q, err := proctest.Start(exec.Command("true"))
	if err != nil {
		t.Fatal(err)
	}
	<-q.Exited()
}

// Current kills what was set last, once; killing a stopped one is a no-op.
func TestCurrentKillsTheRunningProcess(t *testing.T) {
	var c proctest.Current
	c.Kill() // nothing running yet
	p, err := proctest.Start(exec.Command("sleep", "600"))
	if err != nil {
		t.Fatal(err)
	}
	c.Set(p)
	c.Kill()
	select {
	case <-p.Exited():
	default:
		t.Fatal("the running process was not killed")
	}
	c.Kill() // stopped: nothing to do
}
