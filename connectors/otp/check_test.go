package otp

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/guestpass/guestpass/pkg/store"
)

// failures reads an address's failure budget as spent so far (0: none).
func failures(t *testing.T, e env, tenant, email string) int {
	t.Helper()
	raw, err := e.st.Get(ctx, e.iss.failKey(tenant, email, ""))
	if errors.Is(err, store.ErrNotFound) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// The check script charges every attempt on the code's own record before
// it compares anything: the count is in the record after each wrong try,
// and once the limit is spent even the right code is void. The first
// attempt past the limit charges the failure budget once; later ones
// change nothing at all.
func TestCheckChargesTheAttemptBeforeComparing(t *testing.T) {
	eachBackend(t, func(t *testing.T, e env) {
		p := open()
		const tenant, flow, email = "fabrikam", "flow", "ada@example.com"
		code := mustIssue(t, e, p, tenant, flow, email)
		key := e.iss.codeKey(tenant, flow, email)
		issued, err := e.st.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		for i := range p.MaxAttempts {
			if err := e.iss.For(tenant).Verify(ctx, p, flow, email, wrongCode(code, i)); Outcome(err) != "invalid" {
				t.Fatalf("wrong try %d: %v", i+1, err)
			}
			raw, err := e.st.Get(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if want := append(bytes.Clone(issued), strconv.Itoa(i+1)...); !bytes.Equal(raw, want) {
				t.Fatalf("after try %d the record is %q, want %q", i+1, raw, want)
			}
		}
		if n := failures(t, e, tenant, email); n != p.MaxAttempts {
			t.Fatalf("failure budget spent %d, want %d", n, p.MaxAttempts)
		}
		if err := e.iss.For(tenant).Verify(ctx, p, flow, email, code); Outcome(err) != "void" {
			t.Fatalf("right code past the limit: %v (%s), want void", err, Outcome(err))
		}
		if n := failures(t, e, tenant, email); n != p.MaxAttempts+1 {
			t.Fatalf("failure budget spent %d after the first void try, want %d", n, p.MaxAttempts+1)
		}
		after, err := e.st.Get(ctx, key)
		if err != nil {
			t.Fatalf("the void record went: %v", err)
		}
		if err := e.iss.For(tenant).Verify(ctx, p, flow, email, code); Outcome(err) != "void" {
			t.Fatalf("right code again: %v (%s), want void", err, Outcome(err))
		}
		if raw, _ := e.st.Get(ctx, key); !bytes.Equal(raw, after) {
			t.Fatalf("a later void try rewrote the record: %q, was %q", raw, after)
		}
		if n := failures(t, e, tenant, email); n != p.MaxAttempts+1 {
			t.Fatalf("failure budget spent %d after a later void try, want %d", n, p.MaxAttempts+1)
		}
		// The count keeps the record's expiry: it still goes with it.
		if left, err := e.st.TTL(ctx, key); err != nil || left <= 0 || left > p.CodeTTL+storeMargin {
			t.Fatalf("record TTL %v, %v after the attempts", left, err)
		}
	})
}

// A code that can never succeed (none issued, or expired) costs nothing:
// no attempt, no failure.
func TestCheckOfNoLiveCodeChargesNothing(t *testing.T) {
	eachBackend(t, func(t *testing.T, e env) {
		p := open()
		const tenant, email = "fabrikam", "ada@example.com"
		code := mustIssue(t, e, p, tenant, "expired", email)
		e.clock.Advance(p.CodeTTL)
		for i := range p.MaxFailuresPerHour + 1 {
			if err := e.iss.For(tenant).Verify(ctx, p, "expired", email, wrongCode(code, i)); Outcome(err) != "invalid" {
				t.Fatalf("expired code, try %d: %v", i+1, err)
			}
			if err := e.iss.For(tenant).Verify(ctx, p, "none", email, code); Outcome(err) != "invalid" {
				t.Fatalf("no code, try %d: %v", i+1, err)
			}
		}
		if n := failures(t, e, tenant, email); n != 0 {
			t.Fatalf("failure budget spent %d, want 0", n)
		}
		code = mustIssue(t, e, p, tenant, "fresh", email)
		if err := e.iss.For(tenant).Verify(ctx, p, "fresh", email, code); err != nil {
			t.Fatalf("a fresh code after them: %v", err)
		}
	})
}

// oldRecord is a record as the previous version stored it: version 1, a
// per-issue nonce in the MAC, at the key without "v2"; its attempts were
// counted at {t}:otp:try:<nonce>.
func oldRecord(t *testing.T, e env, tenant, challenge, email, code string) (key string, raw []byte) {
	t.Helper()
	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		t.Fatal(err)
	}
	raw = append([]byte{1}, nonce[:]...)
	raw = binary.BigEndian.AppendUint64(raw, uint64(e.clock.Now().Add(time.Hour).UnixNano()))
	raw = append(raw, e.iss.mac("guestpass/otp/code/v1", []byte(tenant), []byte(challenge), []byte(email), nonce[:], []byte(code))...)
	return store.Key(tenant, "otp", "code", e.iss.flowID(tenant, challenge, email)), raw
}

// Records of the previous version are never verified (the choice and its
// reason: codeKey): a right code issued by it fails as a wrong one,
// charges nothing and leaves that record to its TTL; a resend issues a
// code of this version, which verifies. A record of another version at
// this version's key is no code either.
func TestOldRecordsAreNotVerified(t *testing.T) {
	eachBackend(t, func(t *testing.T, e env) {
		p := open()
		const tenant, flow, email, code = "fabrikam", "flow", "ada@example.com", "12345678"
		key, raw := oldRecord(t, e, tenant, flow, email, code)
		if err := e.st.Set(ctx, key, raw, time.Hour); err != nil {
			t.Fatal(err)
		}
		for range p.MaxAttempts + 1 {
			if err := e.iss.For(tenant).Verify(ctx, p, flow, email, code); Outcome(err) != "invalid" {
				t.Fatalf("right code of an old record: %v (%s), want invalid", err, Outcome(err))
			}
		}
		if n := failures(t, e, tenant, email); n != 0 {
			t.Fatalf("failure budget spent %d, want 0", n)
		}
		if got, err := e.st.Get(ctx, key); err != nil || !bytes.Equal(got, raw) {
			t.Fatalf("old record changed: %x, %v", got, err)
		}

		// The same bytes at this version's key: not a record of it.
		if err := e.st.Set(ctx, e.iss.codeKey(tenant, flow, email), raw, time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := e.iss.For(tenant).Verify(ctx, p, flow, email, code); Outcome(err) != "invalid" {
			t.Fatalf("old record at the new key: %v (%s), want invalid", err, Outcome(err))
		}
		if n := failures(t, e, tenant, email); n != 0 {
			t.Fatalf("failure budget spent %d, want 0", n)
		}

		fresh := mustIssue(t, e, p, tenant, flow, email)
		if err := e.iss.For(tenant).Verify(ctx, p, flow, email, fresh); err != nil {
			t.Fatalf("code issued after the upgrade: %v", err)
		}
	})
}

// A code record whose attempt count is not a number is an error on both
// stores (B3: the count is what bounds the tries), never a count of zero
// that would give the code its tries again; the record is left as it was.
func TestMalformedAttemptCountIsAnError(t *testing.T) {
	eachBackend(t, func(t *testing.T, e env) {
		p := open()
		const tenant, flow, email = "fabrikam", "flow", "ada@example.com"
		code := mustIssue(t, e, p, tenant, flow, email)
		key := e.iss.codeKey(tenant, flow, email)
		raw, err := e.st.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		bad := append(raw[:recordLen:recordLen], "x"...)
		if err := e.st.Set(ctx, key, bad, time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := e.iss.For(tenant).Verify(ctx, p, flow, email, code); err == nil || Outcome(err) == "ok" {
			t.Fatalf("right code of a record with a malformed count: %v (%s), want an error", err, Outcome(err))
		}
		if got, err := e.st.Get(ctx, key); err != nil || !bytes.Equal(got, bad) {
			t.Fatalf("record changed: %q, %v", got, err)
		}
	})
}
