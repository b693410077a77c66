// Package proctest runs the private servers that test helpers start
// (redis-server through redisproc, ldaptest's slapd): a child process that dies
// with the test binary, reaped in the background so that a test can kill
// it (an outage) and know its ports are free again, on free 127.0.0.1
// ports. It is scaffolding for tests and for the load tool (pkg/loadgen,
// which starts guestpass the same way, and Redis through redisproc),
// written once for all.
package proctest

import (
	"fmt"
	"net"
	"os/exec"
	"sync"
)

// FreePorts returns n distinct TCP ports that were free on 127.0.0.1 a
// moment ago (all held open together, so they differ). Another process may
// take one before the server binds it: callers retry with fresh ports.
func FreePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Proc is a started child process.
type Proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has been reaped
}

// Start starts cmd so that the kernel kills it if the test binary dies
// without running its cleanups (timeout panic, SIGKILL; Linux), and reaps
// it in the background.
func Start(cmd *exec.Cmd) (*Proc, error) {
	setProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process id (for readings from /proc/PID).
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Exited is closed once the process has exited and been reaped, so a
// helper waiting for its server to answer can stop waiting on a crash.
func (p *Proc) Exited() <-chan struct{} { return p.done }

// Kill kills the process and waits until it has been reaped, so that its
// ports are free for a restart. A nil Proc (a server already stopped) is
// left alone.
func (p *Proc) Kill() {
	if p == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Current is a helper's running server process, if any: set after each
// start, killed for an outage, a restart or the end, from any goroutine.
type Current struct {
	mu   sync.Mutex
	proc *Proc // nil while stopped
}

// Set records p as the running process.
func (c *Current) Set(p *Proc) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.proc = p
}

// Kill kills the running process, if any, and returns once it is reaped.
func (c *Current) Kill() {
	c.mu.Lock()
	p := c.proc
	c.proc = nil
	c.mu.Unlock()
	p.Kill()
}
