package redisproc

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/guestpass/guestpass/pkg/proctest"
	"github.com/guestpass/guestpass/pkg/store/redisstore"
)

func needRedis(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed")
	}
}

// pid is the process id of the Redis answering at addr, "" if none does.
func pid(t *testing.T, addr string) string {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second, DisableIdentity: true})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return ""
	}
	if v := redisstore.InfoField(info, "process_id"); v != "" {
		return v
	}
	t.Fatalf("no process_id in INFO from %s", addr)
	return ""
}

// A server on a free TCP port answers there with the caller's
// arguments, writes its log in its directory, and is gone after Stop;
// the caller's directory stays.
func TestStartTCP(t *testing.T) {
	needRedis(t)
	dir := filepath.Join(t.TempDir(), "made-if-missing")
	s, err := Start(context.Background(), Options{Dir: dir, Args: []string{"--save", "", "--appendonly", "yes"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if host, _, err := net.SplitHostPort(s.Addr); err != nil || host != "127.0.0.1" {
		t.Fatalf("Addr %q, want 127.0.0.1:port", s.Addr)
	}
	if pid(t, s.Addr) == "" {
		t.Fatal("no answer at", s.Addr)
	}
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	defer c.Close()
	got, err := c.ConfigGet(context.Background(), "appendonly").Result()
	if err != nil || got["appendonly"] != "yes" {
		t.Fatalf("appendonly = %v, %v: the extra arguments were not passed", got, err)
	}
	if got, err := c.ConfigGet(context.Background(), "dir").Result(); err != nil || got["dir"] != dir {
		t.Fatalf("dir = %v, %v, want %s", got, err, dir)
	}
	if log, err := os.ReadFile(filepath.Join(dir, "redis.log")); err != nil || s.Log != filepath.Join(dir, "redis.log") || !strings.Contains(string(log), "Ready to accept connections") {
		t.Fatalf("log %s: %q, %v", s.Log, log, err)
	}

	s.Stop()
	if pid(t, s.Addr) != "" {
		t.Fatal("a server still answers after Stop")
	}
	s.Stop() // a no-op once stopped
	s.Close()
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("Close removed the caller's directory: %v", err)
	}
}

// A server on a unix socket listens there only, and Restart brings it
// back on the same socket.
func TestStartUnix(t *testing.T) {
	needRedis(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "redis.sock")
	s, err := Start(context.Background(), Options{Dir: dir, Unix: sock, Args: []string{"--save", ""}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Addr != sock {
		t.Fatalf("Addr %q, want %q", s.Addr, sock)
	}
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Type() != os.ModeSocket {
		t.Fatalf("%s is not a socket: %v", sock, err)
	}
	first := pid(t, sock)
	c := redis.NewClient(&redis.Options{Addr: sock})
	defer c.Close()
	if got, err := c.ConfigGet(context.Background(), "port").Result(); err != nil || got["port"] != "0" {
		t.Fatalf("port = %v, %v: a socket server must listen on no TCP port", got, err)
	}

	s.Stop()
	if pid(t, sock) != "" {
		t.Fatal("a server still answers after Stop")
	}
	if err := s.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	if again := pid(t, sock); again == "" || again == first {
		t.Fatalf("after Restart pid %q (before %s)", again, first)
	}
}

// A port taken between the pick and the bind costs an attempt, not the
// start: whether a plain listener or another Redis (which would answer
// PING in the new server's stead) holds it.
func TestStartRetriesATakenPort(t *testing.T) {
	needRedis(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	other, err := Start(context.Background(), Options{Args: []string{"--save", ""}})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	_, otherPort, _ := net.SplitHostPort(other.Addr)

	for name, taken := range map[string]int{
		"listener": l.Addr().(*net.TCPAddr).Port,
		"redis":    mustAtoi(t, otherPort),
	} {
		t.Run(name, func(t *testing.T) {
			var picked []int
			pick := func() (int, error) {
				if len(picked) == 0 {
					picked = append(picked, taken)
					return taken, nil
				}
				ports, err := proctest.FreePorts(1)
				picked = append(picked, ports[0])
				return ports[0], err
			}
			s, err := Start(context.Background(), Options{Dir: t.TempDir(), Args: []string{"--save", ""}, freePort: pick})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if len(picked) != 2 || s.Addr != net.JoinHostPort("127.0.0.1", strconv.Itoa(picked[1])) {
				t.Fatalf("picked %v, listens at %s: want the taken port, then a fresh one", picked, s.Addr)
			}
			if mine, others := pid(t, s.Addr), pid(t, other.Addr); mine == "" || mine == others {
				t.Fatalf("pid %q at %s, the other server's is %s", mine, s.Addr, others)
			}
			// The server that lost to a listener says so; one that lost to
			// another Redis is killed when that one answers, maybe before.
			if log, _ := os.ReadFile(s.Log); name == "listener" && !strings.Contains(string(log), "in use") {
				t.Errorf("the log keeps no trace of the lost port:\n%s", log)
			}
		})
	}
}

// A server that cannot start at all is not retried forever, and its
// error names the log and quotes why.
func TestStartFailureNamesTheLog(t *testing.T) {
	needRedis(t)
	dir := t.TempDir()
	tries := 0
	pick := func() (int, error) {
		tries++
		ports, err := proctest.FreePorts(1)
		return ports[0], err
	}
	_, err := Start(context.Background(), Options{Dir: dir, Args: []string{"--no-such-option", "x"}, freePort: pick})
	want := "redis-server exited at start; see " + filepath.Join(dir, "redis.log") + ":\n"
	if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "no-such-option") {
		t.Fatalf("err = %v, want %q and the log's reason", err, want)
	}
	if tries != portAttempts {
		t.Errorf("%d attempts, want %d", tries, portAttempts)
	}
	if log, _ := os.ReadFile(filepath.Join(dir, "redis.log")); !strings.Contains(string(log), "no-such-option") {
		t.Errorf("the log does not say why:\n%s", log)
	}
}

// Close removes the directory Start made when given none, and the
// server is gone.
func TestCloseRemovesTheDirItMade(t *testing.T) {
	needRedis(t)
	s, err := Start(context.Background(), Options{Args: []string{"--save", ""}})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(s.Log)
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("%s after Close: %v", dir, err)
	}
	if pid(t, s.Addr) != "" {
		t.Fatal("a server still answers after Close")
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
