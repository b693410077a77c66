package otp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/guestpass/guestpass/pkg/policy"
	"github.com/guestpass/guestpass/pkg/store"
	"github.com/guestpass/guestpass/pkg/store/backendtest"
	"github.com/guestpass/guestpass/pkg/store/memory"
	"github.com/guestpass/guestpass/pkg/store/redisstore"
	"github.com/guestpass/guestpass/pkg/store/redistest"
	"github.com/guestpass/guestpass/pkg/store/storetest"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

// fakeClock is the injected clock: tests move it to cross expiry lines
// without waiting.
type fakeClock = storetest.Clock

func newFakeClock() *fakeClock {
	return storetest.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
}

// env is one Issuer over one backend.
type env struct {
	iss   *Issuer
	st    store.Store
	clock *fakeClock
	redis *redistest.Server // nil for memory
	// storeFollowsClock: the store's own TTLs follow the fake clock too
	// (memory), so a test may move past a cooldown.
	storeFollowsClock bool
}

type backend struct {
	name string
	new  func(t *testing.T, clock *fakeClock) env
}

var backends = []backend{
	{"memory", func(t *testing.T, clock *fakeClock) env {
		st := memory.New(clock.Now)
		t.Cleanup(func() { _ = st.Close() })
		return env{st: st, storeFollowsClock: true}
	}},
	{"redis", func(t *testing.T, clock *fakeClock) env {
		return redisEnv(t, shared.Redis)
	}},
}

// redisEnv is an env on srv, isolated by the test's own key prefix.
func redisEnv(t *testing.T, srv *redistest.Server) env {
	return env{st: backendtest.OpenRedis(t, srv), redis: srv}
}

// eachBackend runs f on every backend with a fresh store and clock.
func eachBackend(t *testing.T, f func(t *testing.T, e env)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			clock := newFakeClock()
			e := b.new(t, clock)
			e.clock = clock
			e.iss = NewIssuer(e.st, testKey, clock.Now)
			f(t, e)
		})
	}
}

// open is a policy without cooldown and with room for many codes, so a
// test can issue freely.
func open() Policy {
	return Policy{CodeTTL: 30 * time.Minute, MaxAttempts: 5, ResendCooldown: 0,
		MaxCodesPerHour: 1000, MaxFailuresPerHour: 20}
}

var ctx = context.Background()

func mustIssue(t *testing.T, e env, p Policy, tenant, challenge, email string) string {
	t.Helper()
	code, err := e.iss.For(tenant).Issue(ctx, p, challenge, email)
	if err != nil {
		t.Fatalf("Issue(%s, %s, %s): %v", tenant, challenge, email, err)
	}
	return code
}

// wrongCode returns an 8-digit code different from code.
func wrongCode(code string, n int) string {
	for {
		w := fmt.Sprintf("%08d", (n*7919+12345678)%100_000_000)
		if w != code {
			return w
		}
		n++
	}
}

func TestCodeFormatAndDistribution(t *testing.T) {
	const draws = 20000
	var counts [CodeLen][10]int
	for range draws {
		c, err := newCode()
		if err != nil {
			t.Fatal(err)
		}
		if !validCode(c) {
			t.Fatalf("code %q is not %d ASCII digits", c, CodeLen)
		}
		for pos := range CodeLen {
			counts[pos][c[pos]-'0']++
		}
	}
	// Expected 2000 per digit and position, standard deviation ~42: the
	// bounds are more than ten deviations wide, so this cannot flake but
	// still catches a stuck, biased or missing digit (e.g. no leading 0).
	for pos := range CodeLen {
		for d := range 10 {
			if n := counts[pos][d]; n < 1500 || n > 2500 {
				t.Errorf("digit %d at position %d drawn %d times of %d", d, pos, n, draws)
			}
		}
	}

	eachBackend(t, func(t *testing.T, e env) {
		for i := range 50 {
			c := mustIssue(t, e, open(), "fabrikam", fmt.Sprint("flow", i), "ada@example.com")
			if !validCode(c) {
				t.Fatalf("Issue returned %q", c)
			}
		}
	})
}

func TestValidCode(t *testing.T) {
	for _, c := range []string{"00000000", "12345678", "99999999"} {
		if !validCode(c) {
			t.Errorf("validCode(%q) = false", c)
		}
	}
	for _, c := range []string{"", "1234567", "123456789", "1234 678", "+1234567", "-1234567",
		"１２３４５６７８", "1234567８", "٠١٢٣٤٥٦٧", "abcdefgh", "1234567\x00"} {
		if validCode(c) {
			t.Errorf("validCode(%q) = true", c)
		}
	}
}

func TestRecordAtRestHasNoCode(t *testing.T) {
	eachBackend(t, func(t *testing.T, e env) {
		const email = "ada@example.com"
		for i := range 50 {
			challenge := fmt.Sprint("flow-", i)
			code := mustIssue(t, e, open(), "fabrikam", challenge, email)
			key := e.iss.codeKey("fabrikam", challenge, email)
			if strings.Contains(key, "ada") || strings.Contains(key, challenge) {
				t.Fatalf("key %q shows the address or flow", key)
			}
			raw, err := e.st.Get(ctx, key)
			if err != nil {
				t.Fatalf("record not at %q: %v", key, err)
			}
			if bytes.Contains(raw, []byte(code)) {
				t.Fatalf("record %x contains the code", raw)
			}
			if bytes.Contains(raw, []byte(email)) {
				t.Fatalf("record %x contains the address", raw)
			}
		}
	})
}

func TestRightCodeWorksOnce(t *testing.T) {
	eachBackend(t, func(t *testing.T, e env) {
		code := mustIssue(t, e, open(), "fabrikam", "flow", "ada@example.com")
		if err := e.iss.For("fabrikam").Verify(ctx, open(), "flow", "ada@example.com", code); err != nil {
			t.Fatalf("first Verify: %v", err)
		}
		err := e.iss.For("fabrikam").Verify(ctx, open(), "flow", "ada@example.com", code)
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("second Verify = %v, want ErrInvalid", err)
		}
		// A right code is not a failure: the budget is untouched.
		if locked, err := e.iss.For("fabrikam").Locked(ctx, Policy{MaxFailuresPerHour: 1}, "ada@example.com"); err != nil || locked {
			t.Fatalf("Locked = %v, %v after a success", locked, err)
		}
	})
}

func TestConcurrentRightCodesSucceedOnce(t *testing.T) {
	eachBackend(t, func(t *testing.T, e env) {
		code := mustIssue(t, e, open(), "fabrikam", "flow", "ada@example.com")
		const n = 100
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for g := range n {
			wg.Go(func() {
				<-start
				errs[g] = e.iss.For("fabrikam").Verify(ctx, open(), "flow", "ada@example.com", code)
			})
		}
		close(start)
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, ErrInvalid):
				t.Errorf("loser got %v, want ErrInvalid", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d of %d concurrent right submissions succeeded, want exactly 1", ok, n)
		}
	})
}

func TestFiveWrongThenRightFails(t *testing.T) {
	eachBackend(t, func(t *testing.T, e env) {
		p := open()
		code := mustIssue(t, e, p, "fabrikam", "flow", "ada@example.com")
		for i := range p.MaxAttempts {
			err := e.iss.For("fabrikam").Verify(ctx, p, "flow", "ada@example.com", wrongCode(code, i))
			if !errors.Is(err, ErrInvalid) || Outcome(err) != "invalid" {
				t.Fatalf("wrong try %d: %v (%s)", i+1, err, Outcome(err))
			}
		}
		err := e.iss.For("fabrikam").Verify(ctx, p, "flow", "ada@example.com", code)
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("right code after %d wrong = %v, want ErrInvalid", p.MaxAttempts, err)
		}
		if Outcome(err) != "void" {
			t.Fatalf("outcome %q, want void", Outcome(err))
		}
		if err.Error() != ErrInvalid.Error() {
			t.Fatalf("void message %q differs from a wrong code's %q", err, ErrInvalid)
		}
	})
}

func TestParallelGuessesOnOneCode(t *testing.T) {
	eachBackend(t, func(t *testing.T, e env) {
		p := open()
		code := mustIssue(t, e, p, "fabrikam", "flow", "ada@example.com")
		const n = 40
		outcomes := make([]string, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for g := range n {
			wg.Go(func() {
				<-start
				outcomes[g] = Outcome(e.iss.For("fabrikam").Verify(ctx, p, "flow", "ada@example.com", wrongCode(code, g)))
			})
		}
		close(start)
		wg.Wait()
		compared := 0
		for _, o := range outcomes {
			switch o {
			case "invalid":
				compared++
			case "void":
			default:
				t.Errorf("outcome %q", o)
			}
		}
		if compared != p.MaxAttempts {
			t.Fatalf("%d guesses were compared, want exactly %d", compared, p.MaxAttempts)
		}
		if err := e.iss.For("fabrikam").Verify(ctx, p, "flow", "ada@example.com", code); !errors.Is(err, ErrInvalid) {
			t.Fatalf("right code after the flood = %v, want ErrInvalid", err)
		}
	})
}

func TestResendDoesNotResetFailureBudget(t *testing.T) {
	eachBackend(t, func(t *testing.T, e env) {
		p := open()
		p.MaxFailuresPerHour = 8
		const tenant, flow, email = "fabrikam", "flow", "ada@example.com"
		code1 := mustIssue(t, e, p, tenant, flow, email)
		for i := range 4 {
			if err := e.iss.For(tenant).Verify(ctx, p, flow, email, wrongCode(code1, i)); Outcome(err) != "invalid" {
				t.Fatalf("code1 wrong try %d: %v", i+1, err)
			}
		}
		// The resend gives a fresh per-code count (4 more tries are
		// compared, not voided) but the address's failures carry over.
		code2 := mustIssue(t, e, p, tenant, flow, email)
		for i := range 4 {
			if err := e.iss.For(tenant).Verify(ctx, p, flow, email, wrongCode(code2, i)); Outcome(err) != "invalid" {
				t.Fatalf("code2 wrong try %d: %v (%s)", i+1, err, Outcome(err))
			}
		}
		if locked, err := e.iss.For(tenant).Locked(ctx, p, email); err != nil || !locked {
			t.Fatalf("Locked = %v, %v; want true", locked, err)
		}
		if err := e.iss.For(tenant).Verify(ctx, p, flow, email, code2); !errors.Is(err, ErrLocked) {
			t.Fatalf("right code2 = %v, want ErrLocked", err)
		}
		code3 := mustIssue(t, e, p, tenant, flow, email)
		if err := e.iss.For(tenant).Verify(ctx, p, flow, email, code3); !errors.Is(err, ErrLocked) {
			t.Fatalf("right code3 after another resend = %v, want ErrLocked", err)
		}
	})
}

func TestFailureBudgetAcrossFlows(t *testing.T) {
	eachBackend(t, func(t *testing.T, e env) {
		p := open() // 5 per code, 20 per address
		const tenant, email = "fabrikam", "ada@example.com"
		for f := range 4 {
			flow := fmt.Sprint("flow-", f)
			code := mustIssue(t, e, p, tenant, flow, email)
			for i := range p.MaxAttempts {
				if err := e.iss.For(tenant).Verify(ctx, p, flow, email, wrongCode(code, i)); Outcome(err) != "invalid" {
					t.Fatalf("flow %d try %d: %v", f, i+1, err)
				}
			}
		}
		// A brand-new flow of the locked address is locked too.
		code := mustIssue(t, e, p, tenant, "fresh-flow", email)
		if err := e.iss.For(tenant).Verify(ctx, p, "fresh-flow", email, code); !errors.Is(err, ErrLocked) {
			t.Fatalf("right code in a new flow = %v, want ErrLocked", err)
		}
		// Other addresses and the same address elsewhere are unaffected.
		code = mustIssue(t, e, p, tenant, "fresh-flow", "bob@example.com")
		if err := e.iss.For(tenant).Verify(ctx, p, "fresh-flow", "bob@example.com", code); err != nil {
			t.Fatalf("other address: %v", err)
		}
		code = mustIssue(t, e, p, "contoso", "fresh-flow", email)
		if err := e.iss.For("contoso").Verify(ctx, p, "fresh-flow", email, code); err != nil {
			t.Fatalf("same address in another tenant: %v", err)
		}
		// The lock lasts the hour's window (memory follows the clock).
		if e.storeFollowsClock {
			e.clock.Advance(time.Hour + time.Second)
			code = mustIssue(t, e, p, tenant, "later", email)
			if err := e.iss.For(tenant).Verify(ctx, p, "later", email, code); err != nil {
				t.Fatalf("after the window: %v", err)
			}
		}
	})
}

func TestParallelGuessesAcrossFlowsStopAtBudget(t *testing.T) {
	eachBackend(t, func(t *testing.T, e env) {
		p := open()
		p.MaxCodesPerHour = 10
		const tenant, email = "fabrikam", "ada@example.com"
		codes := make([]string, p.MaxCodesPerHour)
		for f := range codes {
			codes[f] = mustIssue(t, e, p, tenant, fmt.Sprint("flow-", f), email)
		}
		// 10 codes x 5 tries = 50 guesses at once; only the budget of 20
		// may be compared, the rest must be refused as locked.
		var mu sync.Mutex
		got := map[string]int{}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for f := range codes {
			for i := range p.MaxAttempts {
				wg.Go(func() {
					<-start
					err := e.iss.For(tenant).Verify(ctx, p, fmt.Sprint("flow-", f), email, wrongCode(codes[f], i))
					mu.Lock()
					got[Outcome(err)]++
					mu.Unlock()
				})
			}
		}
		close(start)
		wg.Wait()
		if got["invalid"] != p.MaxFailuresPerHour || got["locked"] != len(codes)*p.MaxAttempts-p.MaxFailuresPerHour {
			t.Fatalf("outcomes %v, want %d invalid and the rest locked", got, p.MaxFailuresPerHour)
		}
	})
}

func TestBinding(t *testing.T) {
	eachBackend(t, func(t *testing.T, e env) {
		p := open()
		type bind struct{ tenant, flow, email string }
		home := bind{"fabrikam", "flow-x", "ada@example.com"}
		others := []bind{
			{"contoso", "flow-x", "ada@example.com"},  // another tenant
			{"fabrikam", "flow-y", "ada@example.com"}, // another browser flow
			{"fabrikam", "flow-x", "bob@example.com"}, // another address
			{"fabrikam", "flow-xa", "da@example.com"}, // fields shifted
		}
		code := mustIssue(t, e, p, home.tenant, home.flow, home.email)
		for _, o := range others {
			// Without a code of its own the other binding has nothing to
			// match; with one, the home digits must still not match it.
			if err := e.iss.For(o.tenant).Verify(ctx, p, o.flow, o.email, code); !errors.Is(err, ErrInvalid) {
				t.Fatalf("%v with no code: %v", o, err)
			}
			own := mustIssue(t, e, p, o.tenant, o.flow, o.email)
			if own == code {
				continue // one chance in 10^8
			}
			if err := e.iss.For(o.tenant).Verify(ctx, p, o.flow, o.email, code); !errors.Is(err, ErrInvalid) {
				t.Fatalf("%v: home code accepted: %v", o, err)
			}
			if err := e.iss.For(o.tenant).Verify(ctx, p, o.flow, o.email, own); err != nil {
				t.Fatalf("%v: own code: %v", o, err)
			}
		}
		if err := e.iss.For(home.tenant).Verify(ctx, p, home.flow, home.email, code); err != nil {
			t.Fatalf("home code after the others: %v", err)
		}
	})
}

// The MAC binds the record itself: a record copied (by someone with store
// access) to another tenant, flow or address does not verify there.
func TestRecordCopiedToAnotherBindingFails(t *testing.T) {
	eachBackend(t, func(t *testing.T, e env) {
		p := open()
		code := mustIssue(t, e, p, "fabrikam", "flow-x", "ada@example.com")
		raw, err := e.st.Get(ctx, e.iss.codeKey("fabrikam", "flow-x", "ada@example.com"))
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range [][3]string{
			{"contoso", "flow-x", "ada@example.com"},
			{"fabrikam", "flow-y", "ada@example.com"},
			{"fabrikam", "flow-x", "bob@example.com"},
		} {
			key := e.iss.codeKey(o[0], o[1], o[2])
			if err := e.st.Set(ctx, key, raw, time.Hour); err != nil {
				t.Fatal(err)
			}
			if err := e.iss.For(o[0]).Verify(ctx, p, o[1], o[2], code); !errors.Is(err, ErrInvalid) {
				t.Fatalf("copied record verified for %v: %v", o, err)
			}
		}
	})
}

func TestExpiry(t *testing.T) {
	eachBackend(t, func(t *testing.T, e env) {
		p := open()
		const tenant, email = "fabrikam", "ada@example.com"

		code := mustIssue(t, e, p, tenant, "a", email)
		e.clock.Advance(p.CodeTTL - time.Second)
		if err := e.iss.For(tenant).Verify(ctx, p, "a", email, code); err != nil {
			t.Fatalf("at CodeTTL-1s: %v", err)
		}

		code = mustIssue(t, e, p, tenant, "b", email)
		e.clock.Advance(p.CodeTTL + time.Second)
		expired := e.iss.For(tenant).Verify(ctx, p, "b", email, code)

		code = mustIssue(t, e, p, tenant, "c", email)
		wrong := e.iss.For(tenant).Verify(ctx, p, "c", email, wrongCode(code, 0))

		if !errors.Is(expired, ErrInvalid) || expired != wrong || expired.Error() != wrong.Error() {
			t.Fatalf("expired = %v, wrong = %v; want the same ErrInvalid", expired, wrong)
		}
	})
}

func TestDefaultCodeTTL(t *testing.T) {
	eachBackend(t, func(t *testing.T, e env) {
		p := Policy{} // all defaults: 30 minutes
		code := mustIssue(t, e, p, "fabrikam", "a", "ada@example.com")
		e.clock.Advance(29*time.Minute + 59*time.Second)
		if err := e.iss.For("fabrikam").Verify(ctx, p, "a", "ada@example.com", code); err != nil {
			t.Fatalf("at 29:59: %v", err)
		}
		e.clock.Advance(2 * time.Minute)
		code = mustIssue(t, e, p, "fabrikam", "b", "ada@example.com")
		e.clock.Advance(30*time.Minute + time.Second)
		if err := e.iss.For("fabrikam").Verify(ctx, p, "b", "ada@example.com", code); !errors.Is(err, ErrInvalid) {
			t.Fatalf("at 30:01: %v, want ErrInvalid", err)
		}
	})
}

func TestCooldown(t *testing.T) {
	eachBackend(t, func(t *testing.T, e env) {
		p := open()
		p.ResendCooldown = time.Minute
		const tenant, email = "fabrikam", "ada@example.com"
		mustIssue(t, e, p, tenant, "flow", email)
		_, err := e.iss.For(tenant).Issue(ctx, p, "flow", email)
		if !errors.Is(err, ErrCooldown) {
			t.Fatalf("second Issue = %v, want ErrCooldown", err)
		}
		wait, ok := RetryAfter(err)
		if !ok || wait <= 0 || wait > time.Minute {
			t.Fatalf("RetryAfter = %v, %v", wait, ok)
		}
		// The cooldown is per address: another flow of the same address
		// waits too; other addresses and tenants do not.
		if _, err := e.iss.For(tenant).Issue(ctx, p, "other-flow", email); !errors.Is(err, ErrCooldown) {
			t.Fatalf("other flow = %v, want ErrCooldown", err)
		}
		mustIssue(t, e, p, tenant, "flow", "bob@example.com")
		mustIssue(t, e, p, "contoso", "flow", email)
		if e.storeFollowsClock {
			e.clock.Advance(time.Minute + time.Second)
			mustIssue(t, e, p, tenant, "flow", email)
		}
	})
}

func TestHourlyCap(t *testing.T) {
	eachBackend(t, func(t *testing.T, e env) {
		p := open()
		p.MaxCodesPerHour = 3
		const tenant, email = "fabrikam", "ada@example.com"
		for i := range p.MaxCodesPerHour {
			mustIssue(t, e, p, tenant, fmt.Sprint("flow-", i), email)
		}
		if _, err := e.iss.For(tenant).Issue(ctx, p, "flow-x", email); !errors.Is(err, ErrTooManyCodes) {
			t.Fatalf("Issue past the cap = %v, want ErrTooManyCodes", err)
		}
		mustIssue(t, e, p, tenant, "flow-x", "bob@example.com")
		mustIssue(t, e, p, "contoso", "flow-x", email)
		if e.storeFollowsClock {
			e.clock.Advance(time.Hour + time.Second)
			mustIssue(t, e, p, tenant, "flow-x", email)
		}
	})
}

func TestReplacedCodeFails(t *testing.T) {
	eachBackend(t, func(t *testing.T, e env) {
		p := open()
		const tenant, flow, email = "fabrikam", "flow", "ada@example.com"
		old := mustIssue(t, e, p, tenant, flow, email)
		cur := mustIssue(t, e, p, tenant, flow, email)
		if old != cur {
			if err := e.iss.For(tenant).Verify(ctx, p, flow, email, old); !errors.Is(err, ErrInvalid) {
				t.Fatalf("replaced code = %v, want ErrInvalid", err)
			}
		}
		if err := e.iss.For(tenant).Verify(ctx, p, flow, email, cur); err != nil {
			t.Fatalf("current code: %v", err)
		}
	})
}

// A check prepared for a code that is replaced (a resend) before the
// check runs is judged against the new code: the old digits fail there,
// and the new code stays and still verifies.
func TestCheckAcrossReplacementKeepsNewCode(t *testing.T) {
	eachBackend(t, func(t *testing.T, e env) {
		p := open()
		const tenant, flow, email = "fabrikam", "flow", "ada@example.com"
		code := mustIssue(t, e, p, tenant, flow, email)
		pc, err := e.iss.For(tenant).PrepareCheck(p, policy.EmailOTPSwitch(tenant, true), flow, email, code, "")
		if err != nil {
			t.Fatal(err)
		}
		fresh := mustIssue(t, e, p, tenant, flow, email)
		if fresh == code {
			t.Skip("the resend drew the same code (one chance in 10^8)")
		}
		if err := e.st.Pipeline(ctx, pc.Op()); err != nil {
			t.Fatal(err)
		}
		if err := pc.Result(); !errors.Is(err, ErrInvalid) {
			t.Fatalf("old code across a replacement = %v, want ErrInvalid", err)
		}
		if err := e.iss.For(tenant).Verify(ctx, p, flow, email, fresh); err != nil {
			t.Fatalf("new code after the old one's check: %v", err)
		}
	})
}

func TestMalformedCodesRefusedWithoutCost(t *testing.T) {
	eachBackend(t, func(t *testing.T, e env) {
		p := open()
		const tenant, flow, email = "fabrikam", "flow", "ada@example.com"
		code := mustIssue(t, e, p, tenant, flow, email)
		bad := []string{"", code[:7], code + "0", " " + code[1:], "１２３４５６７８", code[:7] + "８", "+" + code[1:]}
		for _, b := range bad {
			if err := e.iss.For(tenant).Verify(ctx, p, flow, email, b); !errors.Is(err, ErrInvalid) {
				t.Fatalf("Verify(%q) = %v, want ErrInvalid", b, err)
			}
		}
		if err := e.iss.For(tenant).Verify(ctx, p, flow, email, code); err != nil {
			t.Fatalf("right code after malformed ones: %v", err)
		}
	})
}

func TestShortKeyRefused(t *testing.T) {
	eachBackend(t, func(t *testing.T, e env) {
		iss := NewIssuer(e.st, []byte("short"), e.clock.Now)
		if _, err := iss.For("fabrikam").Issue(ctx, open(), "flow", "ada@example.com"); !errors.Is(err, ErrNoKey) {
			t.Fatalf("Issue = %v, want ErrNoKey", err)
		}
		if err := iss.For("fabrikam").Verify(ctx, open(), "flow", "ada@example.com", "12345678"); !errors.Is(err, ErrNoKey) {
			t.Fatalf("Verify = %v, want ErrNoKey", err)
		}
	})
}

func TestStoreOutage(t *testing.T) {
	{ // one backend only: memory has no outage
		t.Run("redis", func(t *testing.T) {
			// A private server: this test stops it.
			clock := newFakeClock()
			e := redisEnv(t, redistest.Start(t))
			iss := NewIssuer(e.st, testKey, clock.Now)
			p := open()
			p.ResendCooldown = time.Minute
			code, err := iss.For("fabrikam").Issue(ctx, p, "flow", "ada@example.com")
			if err != nil {
				t.Fatal(err)
			}
			e.redis.Stop()

			_, err = iss.For("fabrikam").Issue(ctx, p, "flow2", "bob@example.com")
			checkUnavailable(t, "Issue", err)
			err = iss.For("fabrikam").Verify(ctx, p, "flow", "ada@example.com", code)
			checkUnavailable(t, "Verify right", err)
			err = iss.For("fabrikam").Verify(ctx, p, "flow", "ada@example.com", wrongCode(code, 0))
			checkUnavailable(t, "Verify wrong", err)
			_, err = iss.For("fabrikam").Locked(ctx, p, "ada@example.com")
			checkUnavailable(t, "Locked", err)
			if Outcome(err) != "error" {
				t.Fatalf("Outcome = %q, want error", Outcome(err))
			}

			// Back (empty): it works again without a new Issuer.
			e.redis.Restart()
			code, err = iss.For("fabrikam").Issue(ctx, p, "flow", "ada@example.com")
			if err != nil {
				t.Fatalf("Issue after restart: %v", err)
			}
			if err := iss.For("fabrikam").Verify(ctx, p, "flow", "ada@example.com", code); err != nil {
				t.Fatalf("Verify after restart: %v", err)
			}
		})
	}
}

func checkUnavailable(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("%s during an outage = %v, want store.ErrUnavailable", what, err)
	}
	for _, e := range []error{ErrInvalid, ErrLocked, ErrCooldown, ErrTooManyCodes} {
		if errors.Is(err, e) {
			t.Fatalf("%s during an outage is %v", what, e)
		}
	}
}

func TestPolicyFromDefaults(t *testing.T) {
	got := Policy{}.withDefaults()
	want := DefaultPolicy()
	want.ResendCooldown = 0 // zero cooldown stays "none"
	if got != want {
		t.Fatalf("withDefaults = %+v, want %+v", got, want)
	}
}

// BenchmarkIssueVerify issues and verifies one code per iteration (each
// in a flow and for an address of its own), on each backend: on Redis
// the round trips and the scripts' work dominate.
func BenchmarkIssueVerify(b *testing.B) {
	clock := newFakeClock()
	b.Run("memory", func(b *testing.B) {
		st := memory.New(clock.Now)
		defer st.Close()
		benchIssueVerify(b, NewIssuer(st, testKey, clock.Now))
	})
	b.Run("redis", func(b *testing.B) {
		srv := shared.Redis
		st, err := redisstore.New(redisstore.Options{Addrs: []string{srv.Addr}, Username: srv.Username,
			Password: srv.Password, DB: srv.DB, KeyPrefix: "bench-issue-verify:"})
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		benchIssueVerify(b, NewIssuer(st, testKey, clock.Now))
	})
}

func benchIssueVerify(b *testing.B, iss *Issuer) {
	p := open()
	p.MaxCodesPerHour, p.MaxCodesPerTenantPerHour = 1<<30, 1<<30
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		flow, email := fmt.Sprint("flow", i), fmt.Sprintf("user%d@example.com", i)
		code, err := iss.For("fabrikam").Issue(ctx, p, flow, email)
		if err != nil {
			b.Fatal(err)
		}
		if err := iss.For("fabrikam").Verify(ctx, p, flow, email, code); err != nil {
			b.Fatal(err)
		}
	}
}
