package otp

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"

	"github.com/guestpass/guestpass/pkg/store"
)

// mac is the MAC as it was computed before the pooled states: a fresh
// hmac.New under the code key over a label and length-prefixed fields.
// The tests use it as the reference the ids and code MACs must keep to
// (records and keys written by other replicas), and to write records of
// the previous version.
func (i *Issuer) mac(label string, fields ...[]byte) []byte {
	h := hmac.New(sha256.New, i.key)
	var n [4]byte
	for _, f := range append([][]byte{[]byte(label)}, fields...) {
		binary.BigEndian.PutUint32(n[:], uint32(len(f)))
		h.Write(n[:])
		h.Write(f)
	}
	return h.Sum(nil)
}

// Every id and code MAC, computed with the pooled states again and
// again and from several goroutines at once, is the one a fresh
// hmac.New gives: keys and records stay those other replicas read.
func TestPooledMACsAreTheFreshOnes(t *testing.T) {
	iss := NewIssuer(nil, []byte("0123456789abcdef0123456789abcdef"), nil)
	ref := func(label string, fields ...string) []byte {
		bs := make([][]byte, len(fields))
		for j, f := range fields {
			bs[j] = []byte(f)
		}
		return iss.mac(label, bs...)
	}
	refID := func(label string, fields ...string) string { return hex.EncodeToString(ref(label, fields...)[:16]) }
	check := func(g, n int) error {
		tenant, challenge := fmt.Sprintf("t%d", g), fmt.Sprintf("challenge-%d-%d", g, n)
		email, plus := fmt.Sprintf("guest%d@example.com", n), fmt.Sprintf("guest%d+tag%d@example.com", n, g)
		code, device, flow, ip := fmt.Sprintf("%08d", n*7919), fmt.Sprintf("device-%d", n), fmt.Sprintf("flow-%d", n), fmt.Sprintf("192.0.2.%d", n%256)
		if got, want := iss.codeMAC(tenant, challenge, email, code), ref("guestpass/otp/code/v2", tenant, challenge, email, code); !hmac.Equal(got[:], want) {
			return fmt.Errorf("codeMAC %x, want %x", got, want)
		}
		for _, c := range []struct{ got, want string }{
			{iss.flowID(tenant, challenge, email), refID("guestpass/otp/flow/v1", tenant, challenge, email)},
			{iss.addrID(tenant, plus), refID("guestpass/otp/addr/v1", tenant, email)},
			{iss.deviceID(tenant, plus, device), refID("guestpass/otp/device/v1", tenant, email, device)},
			{iss.flowKey(tenant, flow), store.Key(tenant, "otp", "flow", refID("guestpass/otp/flow-addrs/v1", tenant, flow))},
			{iss.clientKey(tenant, ip), store.Key(tenant, "otp", "ip", refID("guestpass/otp/ip/v1", tenant, ip))},
		} {
			if c.got != c.want {
				return fmt.Errorf("%s, want %s", c.got, c.want)
			}
		}
		return nil
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := range 4 {
		wg.Go(func() {
			for n := range 300 {
				if err := check(g, n); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
